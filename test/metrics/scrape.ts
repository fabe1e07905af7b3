/**
 * Test helper: parses an OpenMetrics / Prometheus text exposition into samples, so tests assert on
 * series and values rather than on text. Handles the subset prom-client writes.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  exemplar?: { labels: Record<string, string>; value: number };
}

function parseLabels(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!.replace(/\\(.)/g, (_x, c: string) => (c === "n" ? "\n" : c));
  return out;
}

export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*?)\})? (\S+)(?: \S+)?(?: # \{(.*?)\} (\S+)(?: \S+)?)?$/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    samples.push({
      name: m[1]!, labels: m[2] ? parseLabels(m[2]) : {}, value: Number(m[3]),
      ...(m[4] !== undefined ? { exemplar: { labels: parseLabels(m[4]), value: Number(m[5]) } } : {}),
    });
  }
  return samples;
}

/** Samples of `name` whose labels include `labels`. */
export function find(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The one sample of `name` with exactly these labels' values (others may exist), or fail. */
export function value(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = find(samples, name, labels);
  if (hits.length > 1) throw new Error(`${hits.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return hits[0]?.value;
}
