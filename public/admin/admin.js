// fedbridge admin console: a thin client of the admin API (/admin/*). Plain JS, no dependencies.
// Security rules this file keeps:
//  - the admin token lives only in the `token` variable below: never in a URL, a cookie or storage;
//  - every value from the server or the user is rendered with textContent, never parsed as HTML;
//  - no inline script or style (the page is served with a strict Content-Security-Policy).
"use strict";

(() => {
  const ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
  const DAY = 86_400_000;

  /** The admin's bearer token: memory only. */
  let token = "";
  /** The last listing, by id. */
  let idps = new Map();
  /** JSON Schema of an IdP's settings (GET /admin/schema/idp), for the settings forms. */
  let idpSchema = null;
  /** The audit page cursor. */
  let auditNext = null;

  const $ = (id) => {
    const node = document.getElementById(id);
    if (!node) throw new Error(`missing #${id}`);
    return node;
  };

  /** Creates an element; `text` always goes through textContent. */
  function el(tag, options = {}, children = []) {
    const node = document.createElement(tag);
    if (options.className) node.className = options.className;
    if (options.text !== undefined) node.textContent = String(options.text);
    if (options.title !== undefined) node.title = String(options.title);
    if (options.type) node.type = options.type;
    for (const c of children) if (c) node.append(c);
    return node;
  }

  function setStatus(text, kind = "ok") {
    const s = $("status");
    s.textContent = text;
    s.className = text ? `message ${kind}` : "";
  }

  /** Renders `{error, reasons}` (or any failure) into `target`. */
  function showError(target, title, body) {
    target.replaceChildren();
    const box = el("div", { className: "message error" });
    box.append(el("strong", { text: title }));
    if (body && typeof body.error === "string") box.append(el("span", { className: "error-code", text: `: ${body.error}` }));
    if (body && Array.isArray(body.reasons) && body.reasons.length) {
      const list = el("ul", { className: "reasons" });
      for (const r of body.reasons) list.append(el("li", { className: "reason", text: r }));
      box.append(list);
    }
    target.append(box);
  }

  function showOk(target, text) {
    target.replaceChildren(el("div", { className: "message ok", text }));
  }

  /** Calls the admin API with the token in the Authorization header. */
  async function api(method, path, { json, xml, headers = {}, text = false } = {}) {
    const h = { Accept: text ? "application/samlmetadata+xml" : "application/json", Authorization: `Bearer ${token}`, ...headers };
    let body;
    if (json !== undefined) {
      h["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (xml !== undefined) {
      h["Content-Type"] = "application/samlmetadata+xml";
      body = xml;
    }
    const res = await fetch(path, { method, headers: h, body, credentials: "omit", cache: "no-store", redirect: "error", referrerPolicy: "no-referrer" });
    let data = null;
    if (res.status !== 204) {
      try {
        data = text && res.ok ? await res.text() : await res.json();
      } catch {
        data = null;
      }
    }
    if (res.status === 401 && token) signOut("Your admin token was refused: sign in again.");
    return { status: res.status, ok: res.ok, etag: res.headers.get("ETag"), data };
  }

  const idpPath = (id, suffix = "") => `/admin/idps/${encodeURIComponent(id)}${suffix}`;

  // ---- tabs -----------------------------------------------------------------------------------

  function showTab(id) {
    for (const p of document.querySelectorAll("section.panel")) p.hidden = p.id !== id;
    for (const b of document.querySelectorAll("button.tab")) b.classList.toggle("active", b.dataset.tab === id);
    if (id === "retired-section") void loadRetired();
    if (id === "audit-section") void loadAudit(false);
    if (id === "rotate-section") void showRolloverState();
  }

  // ---- sign in / out --------------------------------------------------------------------------

  async function signIn(event) {
    event.preventDefault();
    const input = $("token");
    const candidate = input.value.trim();
    input.value = "";
    if (!candidate) return;
    token = candidate;
    const res = await api("GET", "/admin/idps").catch(() => null);
    if (!res || !res.ok) {
      token = "";
      setStatus(res && res.status === 401 ? "Sign-in failed: the token was refused." : "Sign-in failed: the server did not answer.", "error");
      return;
    }
    $("sign-in-section").hidden = true;
    $("app").hidden = false;
    $("who").hidden = false;
    $("nav").hidden = false;
    setStatus("");
    render(res.data.idps);
    const schema = await api("GET", "/admin/schema/idp");
    if (schema.ok) {
      idpSchema = schema.data;
      buildSettingsForm($("onboard-settings"), "onboard", {});
    }
    showTab("idps-section");
  }

  function signOut(message = "") {
    token = "";
    idps = new Map();
    for (const id of ["idp-rows", "explain-idp", "rotate-idp", "settings-idp", "onboard-result", "onboard-preview", "rotate-result", "rotate-preview", "rotate-state",
      "settings-fields", "settings-result", "explain-result", "retired-rows", "audit-rows"]) $(id).replaceChildren();
    $("explain-token").value = "";
    $("explain-actor").value = "";
    $("app").hidden = true;
    $("who").hidden = true;
    $("nav").hidden = true;
    $("sign-in-section").hidden = false;
    setStatus(message, message ? "error" : "ok");
  }

  // ---- the listing ----------------------------------------------------------------------------

  async function refreshList() {
    const res = await api("GET", "/admin/idps");
    if (res.ok) render(res.data.idps);
    else if (res.status !== 401) setStatus(`Could not list the IdPs (${res.status}).`, "error");
  }

  const day = (iso) => (iso ? iso.slice(0, 10) : "");
  const daysLeft = (iso) => Math.floor((Date.parse(iso) - Date.now()) / DAY);

  function certificateList(certs) {
    const list = el("ul", { className: "certs" });
    for (const c of certs) {
      const flag = c.expired ? "expired" : c.expiresSoon ? "expiring" : "";
      const label = c.expired ? " (expired)" : c.expiresSoon ? ` (expires in ${daysLeft(c.notAfter)} days)` : "";
      const item = el("li", { className: `cert ${flag}`.trim(), title: `SHA-256 ${c.fingerprint}\nvalid from ${c.notBefore}` });
      item.append(el("span", { className: "mono", text: `${String(c.fingerprint).slice(0, 16)}…` }), el("span", { text: " expires " }));
      item.append(el("time", { className: "not-after", text: c.notAfter }), el("span", { className: "flag", text: label }));
      list.append(item);
    }
    return list;
  }

  function button(text, onClick) {
    const b = el("button", { type: "button", text });
    b.addEventListener("click", () => void Promise.resolve(onClick()).catch(() => setStatus("The request failed: the server did not answer.", "error")));
    return b;
  }

  function render(list) {
    idps = new Map(list.map((i) => [i.id, i]));
    const rows = list.map((i) => {
      const tr = el("tr", { className: "idp" });
      tr.dataset.id = i.id;
      const metadata = el("td");
      metadata.append(el("div", { text: (i.protocols || []).join(" ") }));
      if (i.validUntil) metadata.append(el("div", { text: `valid until ${i.validUntil}` }));
      if (i.metadataUrl) metadata.append(el("div", { className: "mono", text: i.metadataUrl }));
      if (i.lastRefreshAt) metadata.append(el("div", { text: `refreshed ${i.lastRefreshAt}` }));
      if (i.lastRefreshError) metadata.append(el("div", { className: "refresh-error", text: `last refresh failed: ${i.lastRefreshError}` }));
      const actions = el("td", { className: "actions" });
      if (i.editable) {
        actions.append(button("Rotate", () => chooseFor("rotate-idp", "rotate-section", i.id)));
        actions.append(button("Settings", () => chooseFor("settings-idp", "settings-section", i.id).then(loadSettings)));
        if (i.source === "url") actions.append(button("Refresh", () => refreshFromUrl(i.id)));
        actions.append(button("Delete", () => remove(i.id)));
      }
      actions.append(button("Explain", () => chooseFor("explain-idp", "explain-section", i.id)));
      tr.append(
        el("td", { className: "id mono-id", text: i.id }),
        el("td", { className: "entity mono", text: i.entityId }),
        el("td", { text: i.editable ? i.source : "config file (read-only)" }),
        el("td", { text: i.version === undefined || i.version === null ? "" : String(i.version) }),
        el("td", {}, [certificateList(i.signingCertificates || [])]),
        metadata,
        el("td", { className: "updated", text: i.updatedAt ? `${day(i.updatedAt)} by ${i.updatedBy}` : "" }),
        actions,
      );
      return tr;
    });
    $("idp-rows").replaceChildren(...rows);
    fillSelect($("explain-idp"), list);
    fillSelect($("rotate-idp"), list.filter((i) => i.editable));
    fillSelect($("settings-idp"), list.filter((i) => i.editable));
  }

  function fillSelect(select, list) {
    const chosen = select.value;
    select.replaceChildren(...list.map((i) => {
      const o = el("option", { text: `${i.id} (${i.entityId})` });
      o.value = i.id;
      return o;
    }));
    if (list.some((i) => i.id === chosen)) select.value = chosen;
  }

  async function chooseFor(selectId, tab, id) {
    showTab(tab);
    $(selectId).value = id;
    if (tab === "rotate-section") await showRolloverState();
  }

  function readFile(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.onerror = () => reject(reader.error || new Error("cannot read the file"));
      reader.readAsText(file);
    });
  }

  // ---- preview (onboard and rotate) -----------------------------------------------------------

  /** Renders POST /admin/preview's answer: identity, endpoints, certificates, checks, key diff. */
  function renderPreview(target, p) {
    target.replaceChildren();
    const box = el("div", { className: `preview ${p.ok ? "ok" : "failed"}` });
    box.append(el("div", { className: `message ${p.ok ? "ok" : "error"} preview-summary`, text: p.ok ? "All checks pass: ready to save." : "Some checks fail: saving would be refused." }));
    const facts = el("dl", { className: "facts" });
    const fact = (k, v) => facts.append(el("dt", { text: k }), el("dd", { className: "mono", text: v }));
    if (p.entityId) fact("Entity ID", p.entityId);
    if (p.protocols) fact("Protocols", p.protocols.join(" ") || "(none)");
    if (p.validUntil) fact("Valid until", p.validUntil);
    box.append(facts);
    if (Array.isArray(p.ssoEndpoints)) {
      box.append(el("h3", { text: "Single sign-on endpoints" }));
      const ul = el("ul", { className: "sso" });
      for (const s of p.ssoEndpoints) ul.append(el("li", { className: "mono", text: `${s.binding} → ${s.location}` }));
      if (!p.ssoEndpoints.length) ul.append(el("li", { text: "(none listed)" }));
      box.append(ul);
    }
    if (Array.isArray(p.certificates)) {
      box.append(el("h3", { text: "Signing certificates" }));
      const table = el("table", { className: "preview-certs" });
      const head = el("tr");
      for (const h of ["Subject CN", "Issuer", "Key", "Valid from", "Valid to", "Expires"]) head.append(el("th", { text: h }));
      table.append(el("thead", {}, [head]));
      const body = el("tbody");
      for (const c of p.certificates) {
        const tr = el("tr", { className: "preview-cert", title: `SHA-256 ${c.fingerprint}` });
        const key = c.keyType === "ec" ? `EC ${c.curve || ""}` : `${String(c.keyType).toUpperCase()} ${c.keyBits || "?"} bits`;
        const expires = c.expiresInDays < 0 ? `expired ${-c.expiresInDays} days ago` : `in ${c.expiresInDays} days`;
        tr.append(
          el("td", { className: "cn", text: c.subjectCN || c.subject }), el("td", { text: c.selfSigned ? `${c.issuer} (self-signed)` : c.issuer }),
          el("td", { className: "key", text: key }), el("td", { text: c.notBefore }), el("td", { text: c.notAfter }),
          el("td", { className: `expires ${c.expiresInDays < 30 ? "expiring" : ""}`.trim(), text: expires }),
        );
        body.append(tr);
      }
      table.append(body);
      box.append(table);
    }
    box.append(el("h3", { text: "Checks" }));
    const checks = el("ul", { className: "checks" });
    for (const c of p.checks || []) {
      const li = el("li", { className: `check ${c.ok ? "pass" : "fail"}` });
      li.append(el("span", { className: "check-name", text: c.name }), el("span", { text: c.ok ? " — pass" : " — fail" }));
      for (const r of c.reasons) li.append(el("span", { className: "reason", text: ` ${r}` }));
      checks.append(li);
    }
    box.append(checks);
    if (p.keys) {
      box.append(el("h3", { text: "Key change" }));
      const diff = el("ul", { className: "key-diff" });
      for (const [kind, list] of [["kept", p.keys.kept], ["added", p.keys.added], ["removed", p.keys.removed]]) {
        for (const f of list) diff.append(el("li", { className: `key ${kind}`, text: `${kind}: ${f.slice(0, 16)}…`, title: f }));
      }
      if (!diff.childElementCount) diff.append(el("li", { text: "no signing key changes" }));
      box.append(diff);
    }
    target.append(box);
  }

  async function onboardSource() {
    const byUrl = $("onboard-source-url").checked;
    if (byUrl) {
      const url = $("onboard-url").value.trim();
      if (!url) throw new Error("Enter the metadata URL.");
      return { metadataUrl: url };
    }
    const file = $("onboard-file").files[0];
    if (!file) throw new Error("Choose a metadata file.");
    return { metadata: await readFile(file) };
  }

  async function previewOnboard() {
    const out = $("onboard-preview");
    // A stale preview must never stand for the new input.
    out.replaceChildren();
    $("onboard-result").replaceChildren();
    $("onboard-save-button").disabled = true;
    const id = $("onboard-id").value.trim();
    if (!ID.test(id)) return showError(out, "Invalid IdP id (lower-case letters, digits, - and _).");
    let source;
    try {
      source = await onboardSource();
    } catch (e) {
      return showError(out, e.message);
    }
    const entityId = $("onboard-entity").value.trim();
    const res = await api("POST", "/admin/preview", { json: { ...source, id, ...(entityId ? { entityId } : {}), force: $("onboard-force").checked } });
    if (!res.ok) return showError(out, `Preview failed (${res.status})`, res.data);
    renderPreview(out, res.data);
    $("onboard-save-button").disabled = false;
  }

  async function onboard(event) {
    event.preventDefault();
    const out = $("onboard-result");
    out.replaceChildren();
    const id = $("onboard-id").value.trim();
    if (!ID.test(id)) return showError(out, "Invalid IdP id (lower-case letters, digits, - and _).");
    const settings = readSettingsForm($("onboard-settings"));
    if (!settings) return showError(out, "Fix the settings marked above.");
    let source;
    try {
      source = await onboardSource();
    } catch (e) {
      return showError(out, e.message);
    }
    const entityId = $("onboard-entity").value.trim();
    const current = idps.get(id);
    const res = await api("PUT", idpPath(id), {
      json: { ...settings, ...source, ...(entityId ? { entityId } : {}), ...($("onboard-force").checked ? { force: true } : {}) },
      headers: current && current.editable ? { "If-Match": `"${current.version}"` } : {},
    });
    if (res.ok) {
      showOk(out, `${res.status === 201 ? "Created" : "Replaced"} ${id}: now version ${res.data.version}.`);
      $("onboard-save-button").disabled = true;
      await refreshList();
    } else {
      showFieldErrors($("onboard-settings"), res.data);
      showError(out, `Onboarding refused (${res.status})`, res.data);
    }
  }

  // ---- rotate ---------------------------------------------------------------------------------

  async function showRolloverState() {
    const out = $("rotate-state");
    const id = $("rotate-idp").value;
    if (!id) return out.replaceChildren();
    const res = await api("GET", idpPath(id, "/keys"));
    if (!res.ok) return showError(out, `Could not read the key history (${res.status})`, res.data);
    const k = res.data;
    out.replaceChildren();
    const current = idps.get(id);
    const n = current ? current.signingCertificates.length : k.keys.length;
    const box = el("div", { className: "rollover" });
    box.append(el("div", { className: "rollover-state", text: n > 1 ? `Rollover in progress: ${n} signing keys are trusted side by side.` : "One signing key in force: no rollover in progress." }));
    const last = k.history[0];
    if (last) box.append(el("div", { text: `Last key change: ${last.action} by ${last.by} at ${last.at}${last.forced ? " (forced)" : ""}.` }));
    box.append(el("div", { className: "hint", text: "Which key last verified an assertion is not recorded by the bridge yet." }));
    const hist = el("ol", { className: "key-history" });
    for (const h of k.history.slice(0, 10)) hist.append(el("li", { text: `${h.at} ${h.action} (${h.idp}) by ${h.by}${h.forced ? ", forced" : ""}: ${h.keys.map((f) => `${f.slice(0, 12)}…`).join(", ")}` }));
    box.append(hist);
    out.append(box);
  }

  async function previewRotate() {
    const out = $("rotate-preview");
    out.replaceChildren();
    const id = $("rotate-idp").value;
    const file = $("rotate-file").files[0];
    if (!id || !file) return showError(out, "Choose an IdP and a metadata file.");
    const xml = await readFile(file);
    const current = idps.get(id);
    const res = await api("POST", "/admin/preview", { json: { metadata: xml, id, force: $("rotate-force").checked, ...(current && current.settings && current.settings.entityId ? { entityId: current.settings.entityId } : {}) } });
    if (!res.ok) return showError(out, `Preview failed (${res.status})`, res.data);
    renderPreview(out, res.data);
  }

  async function rotate(event) {
    event.preventDefault();
    const out = $("rotate-result");
    out.replaceChildren();
    const id = $("rotate-idp").value;
    const file = $("rotate-file").files[0];
    const force = $("rotate-force").checked;
    if (!id) return showError(out, "Choose an IdP.");
    if (!file) return showError(out, "Choose a metadata file.");
    let xml;
    try {
      xml = await readFile(file);
    } catch {
      return showError(out, "Could not read the file.");
    }
    // Re-read the listing so the If-Match is the latest version we know of.
    await refreshList();
    const current = idps.get(id);
    if (!current) return showError(out, `${id} no longer exists.`);
    const res = await api("PUT", idpPath(id, `/metadata${force ? "?force=true" : ""}`), { xml, headers: { "If-Match": `"${current.version}"` } });
    if (res.ok) {
      showOk(out, `Rotated ${id}: now version ${res.data.version}.`);
      $("rotate-file").value = "";
      $("rotate-force").checked = false;
      await refreshList();
      await showRolloverState();
    } else if (res.status === 412) {
      showError(out, `${id} was changed by someone else meanwhile: check the listing and try again.`, res.data);
      await refreshList();
    } else {
      showError(out, `Rotation refused (${res.status})`, res.data);
    }
  }

  // ---- settings and mapping: a form from the JSON Schema ----------------------------------------

  const SKIP = new Set(["metadata", "metadataUrl", "force"]);

  /** The schema node, with $ref / anyOf of one non-null branch resolved. */
  function resolve(node) {
    let n = node || {};
    for (let i = 0; i < 8 && n.$ref && idpSchema; i++) {
      const path = String(n.$ref).replace(/^#\//, "").split("/");
      let target = idpSchema;
      for (const p of path) target = target && target[p];
      n = target || {};
    }
    return n;
  }

  function fieldKind(node) {
    const n = resolve(node);
    if (n.type === "boolean") return "boolean";
    if (n.type === "integer" || n.type === "number") return "number";
    if (n.type === "string" && !n.enum) return "string";
    if (n.enum) return "enum";
    return "json";
  }

  /** One input per setting (and per mapping part), each with its own error slot. */
  function buildSettingsForm(container, prefix, values) {
    container.replaceChildren();
    if (!idpSchema || !idpSchema.properties) return;
    const add = (path, node, value) => {
      const n = resolve(node);
      const kind = fieldKind(n);
      const id = `${prefix}-field-${path.replace(/\./g, "-")}`;
      const wrap = el("div", { className: "field" });
      wrap.dataset.path = path;
      wrap.dataset.kind = kind;
      const label = el("label", { text: path });
      label.htmlFor = id;
      wrap.append(label);
      if (n.description) wrap.append(el("div", { className: "hint", text: n.description }));
      let input;
      if (kind === "boolean") {
        input = el("input", { type: "checkbox" });
        input.checked = value === undefined ? n.default === true : value === true;
      } else if (kind === "enum") {
        input = el("select");
        input.append(el("option", { text: "" }));
        for (const v of n.enum) input.append(el("option", { text: v }));
        input.value = value === undefined ? "" : String(value);
      } else if (kind === "json") {
        input = el("textarea");
        input.rows = 3;
        input.spellcheck = false;
        input.value = value === undefined ? "" : JSON.stringify(value, null, 2);
        input.placeholder = n.default !== undefined ? JSON.stringify(n.default) : "";
      } else {
        input = el("input", { type: kind === "number" ? "number" : "text" });
        input.spellcheck = false;
        input.value = value === undefined ? "" : String(value);
        if (n.default !== undefined) input.placeholder = String(n.default);
      }
      input.id = id;
      input.className = "field-input";
      wrap.append(input, el("div", { className: "field-error" }));
      container.append(wrap);
    };
    for (const [key, node] of Object.entries(idpSchema.properties)) {
      if (SKIP.has(key)) continue;
      const n = resolve(node);
      const v = values ? values[key] : undefined;
      if (key === "mapping" && n.properties) {
        for (const [sub, subNode] of Object.entries(n.properties)) add(`mapping.${sub}`, subNode, v ? v[sub] : undefined);
      } else add(key, n, v);
    }
  }

  /** Reads the form back into settings, validating each field against its schema; null when any fails. */
  function readSettingsForm(container) {
    const out = {};
    let ok = true;
    for (const wrap of container.querySelectorAll("div.field")) {
      const path = wrap.dataset.path;
      const input = wrap.querySelector(".field-input");
      const error = wrap.querySelector(".field-error");
      error.textContent = "";
      wrap.classList.remove("invalid");
      const node = path.startsWith("mapping.")
        ? resolve(resolve(idpSchema.properties.mapping).properties[path.slice(8)])
        : resolve(idpSchema.properties[path]);
      let value;
      const fail = (message) => {
        ok = false;
        error.textContent = message;
        wrap.classList.add("invalid");
      };
      if (wrap.dataset.kind === "boolean") value = input.checked;
      else if (input.value.trim() === "") value = undefined;
      else if (wrap.dataset.kind === "number") {
        value = Number(input.value);
        if (!Number.isFinite(value)) fail("a number");
        else if (node.type === "integer" && !Number.isInteger(value)) fail("a whole number");
        else if (node.exclusiveMinimum !== undefined && value <= node.exclusiveMinimum) fail(`greater than ${node.exclusiveMinimum}`);
        else if (node.minimum !== undefined && value < node.minimum) fail(`at least ${node.minimum}`);
        else if (node.maximum !== undefined && value > node.maximum) fail(`at most ${node.maximum}`);
      } else if (wrap.dataset.kind === "json") {
        try {
          value = JSON.parse(input.value);
        } catch {
          fail("not valid JSON");
        }
        if (value !== undefined && node.type === "array" && !Array.isArray(value)) fail("a JSON array");
        if (value !== undefined && node.type === "object" && (typeof value !== "object" || value === null || Array.isArray(value))) fail("a JSON object");
      } else {
        value = input.value;
        if (node.pattern && !new RegExp(node.pattern, "u").test(value)) fail(`does not match ${node.pattern}`);
        if (node.minLength !== undefined && value.length < node.minLength) fail(`at least ${node.minLength} characters`);
      }
      if (value === undefined) continue;
      if (path.startsWith("mapping.")) {
        out.mapping = out.mapping || {};
        out.mapping[path.slice(8)] = value;
      } else out[path] = value;
    }
    return ok ? out : null;
  }

  /** Puts the server's `path: message` reasons next to their fields (the longest matching path). */
  function showFieldErrors(container, body) {
    if (!body || !Array.isArray(body.reasons)) return;
    const fields = [...container.querySelectorAll("div.field")];
    for (const r of body.reasons) {
      const colon = r.indexOf(": ");
      if (colon < 0) continue;
      const path = r.slice(0, colon);
      const field = fields
        .filter((f) => path === f.dataset.path || path.startsWith(`${f.dataset.path}.`) || path.startsWith(`${f.dataset.path}[`))
        .sort((a, b) => b.dataset.path.length - a.dataset.path.length)[0];
      if (!field) continue;
      field.classList.add("invalid");
      const slot = field.querySelector(".field-error");
      slot.textContent = `${slot.textContent ? `${slot.textContent}; ` : ""}${r.slice(colon + 2)}`;
    }
  }

  let settingsLoaded = null;

  async function loadSettings() {
    const out = $("settings-result");
    out.replaceChildren();
    const id = $("settings-idp").value;
    if (!id) return;
    const res = await api("GET", idpPath(id));
    if (!res.ok) return showError(out, `Could not read ${id} (${res.status})`, res.data);
    settingsLoaded = { id, etag: res.etag, view: res.data };
    buildSettingsForm($("settings-fields"), "settings", res.data.settings || {});
  }

  async function saveSettings(event) {
    event.preventDefault();
    const out = $("settings-result");
    out.replaceChildren();
    if (!settingsLoaded || settingsLoaded.id !== $("settings-idp").value) await loadSettings();
    const loaded = settingsLoaded;
    if (!loaded) return;
    const settings = readSettingsForm($("settings-fields"));
    if (!settings) return showError(out, "Fix the fields marked above.");
    let source;
    if (loaded.view.source === "url") source = { metadataUrl: loaded.view.metadataUrl };
    else {
      const md = await api("GET", idpPath(loaded.id, "/metadata"), { text: true });
      if (!md.ok) return showError(out, `Could not read the metadata of ${loaded.id} (${md.status})`, md.data);
      source = { metadata: md.data };
    }
    const res = await api("PUT", idpPath(loaded.id), { json: { ...settings, ...source }, headers: { "If-Match": loaded.etag } });
    if (res.ok) {
      showOk(out, `Saved the settings of ${loaded.id}: now version ${res.data.version}.`);
      await refreshList();
      await loadSettings();
      showOk(out, `Saved the settings of ${loaded.id}: now version ${res.data.version}.`);
    } else {
      showFieldErrors($("settings-fields"), res.data);
      showError(out, `Settings refused (${res.status})`, res.data);
    }
  }

  // ---- refresh, delete ------------------------------------------------------------------------

  async function refreshFromUrl(id) {
    const res = await api("POST", idpPath(id, "/refresh"));
    if (res.ok) setStatus(`Refreshed ${id} from its URL.`);
    else setStatus(`Refreshing ${id} failed (${res.status}): ${(res.data && (res.data.lastRefreshError || res.data.error)) || "error"}`, "error");
    await refreshList();
  }

  async function remove(id) {
    const current = idps.get(id);
    if (!current || !window.confirm(`Delete the IdP ${id}? Its users can no longer exchange assertions.`)) return;
    const res = await api("DELETE", idpPath(id), { headers: { "If-Match": `"${current.version}"` } });
    if (res.ok) setStatus(`Deleted ${id}.`);
    else setStatus(`Deleting ${id} failed (${res.status}): ${(res.data && res.data.error) || "error"}`, "error");
    await refreshList();
  }

  // ---- retired IdPs, audit --------------------------------------------------------------------

  async function loadRetired() {
    const res = await api("GET", "/admin/tombstones");
    if (!res.ok) return setStatus(`Could not list retired IdPs (${res.status}).`, "error");
    $("retired-rows").replaceChildren(...res.data.tombstones.map((t) => {
      const tr = el("tr", { className: "tombstone" });
      tr.dataset.id = t.id;
      tr.append(
        el("td", { className: "id mono-id", text: t.id }), el("td", { className: "mono", text: t.entityId || "" }),
        el("td", { text: `${t.retiredAt} by ${t.retiredBy}` }),
        el("td", { className: "mono", text: t.fingerprints.map((f) => `${f.slice(0, 12)}…`).join(" ") }),
        el("td", { className: "blocks", text: t.blocks }),
      );
      return tr;
    }));
  }

  function auditDetails(e) {
    const parts = [];
    if (e.outcome === "refused") parts.push(`${e.status || ""} ${e.error || ""}${e.reasons ? `: ${e.reasons.join("; ")}` : ""}`.trim());
    if (e.entityId) parts.push(`entity ${e.entityId}${e.previousEntityId ? ` (was ${e.previousEntityId})` : ""}`);
    if (e.version !== undefined) parts.push(`version ${e.version}`);
    if (e.forced) parts.push("FORCED");
    if (e.newFingerprints) parts.push(`keys ${e.newFingerprints.map((f) => `${f.slice(0, 8)}…`).join(", ")}`);
    if (e.removedFingerprints && e.removedFingerprints.length) parts.push(`removed ${e.removedFingerprints.map((f) => `${f.slice(0, 8)}…`).join(", ")}`);
    for (const c of e.changes || []) parts.push(`${c.field}: ${JSON.stringify(c.from)} → ${JSON.stringify(c.to)}`);
    return parts.join(" · ");
  }

  async function loadAudit(more) {
    const q = new URLSearchParams({ limit: "50" });
    for (const [k, id] of [["idp", "audit-idp"], ["actor", "audit-actor"], ["action", "audit-action"], ["since", "audit-since"]]) {
      const v = $(id).value.trim();
      if (v) q.set(k, v);
    }
    if (more && auditNext !== null) q.set("before", String(auditNext));
    const res = await api("GET", `/admin/audit?${q}`);
    if (!res.ok) return setStatus(`Could not read the audit (${res.status}): ${(res.data && res.data.reasons && res.data.reasons.join("; ")) || ""}`, "error");
    auditNext = res.data.next;
    $("audit-more").hidden = auditNext === null;
    $("audit-retention").textContent = `The store keeps the last ${res.data.retention.maxEntries} entries.`;
    const rows = res.data.entries.map((e) => {
      const tr = el("tr", { className: `audit-entry ${e.outcome}` });
      tr.append(
        el("td", { text: String(e.seq) }), el("td", { text: e.at }), el("td", { className: "actor", text: e.actor }),
        el("td", { className: "action", text: e.action }), el("td", { className: "mono-id", text: e.idp || "" }),
        el("td", { className: "outcome", text: e.outcome }), el("td", { className: "details", text: auditDetails(e) }),
      );
      return tr;
    });
    if (more) $("audit-rows").append(...rows);
    else $("audit-rows").replaceChildren(...rows);
  }

  // ---- explain --------------------------------------------------------------------------------

  /** base64url of the UTF-8 bytes of `text` (RFC 4648 §5, no padding). */
  function base64url(text) {
    const bytes = new TextEncoder().encode(text);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  async function explain(event) {
    event.preventDefault();
    const out = $("explain-result");
    out.replaceChildren();
    const id = $("explain-idp").value;
    const raw = $("explain-token").value.trim();
    const client = $("explain-client").value.trim();
    const audience = $("explain-audience").value.split("\n").map((s) => s.trim()).filter(Boolean);
    const scope = $("explain-scope").value.trim();
    const actor = $("explain-actor").value.trim();
    if (!id) return showError(out, "Choose an IdP.");
    if (!raw) return showError(out, "Paste a subject token.");
    const subjectToken = raw.startsWith("<") ? base64url(raw) : raw.replace(/\s+/g, "");
    const res = await api("POST", idpPath(id, "/explain"), {
      json: {
        subject_token: subjectToken, subject_token_type: $("explain-type").value,
        ...(client ? { client_id: client } : {}), ...(audience.length ? { audience } : {}), ...(scope ? { scope } : {}),
        ...(actor ? { actor_token: actor.replace(/\s+/g, ""), actor_token_type: $("explain-actor-type").value } : {}),
      },
    });
    if (!res.ok || !res.data || !Array.isArray(res.data.steps)) return showError(out, `Explain failed (${res.status})`, res.data);
    const r = res.data;
    out.replaceChildren();
    out.append(el("div", { className: `message ${r.ok ? "ok" : "error"} summary`, text: r.ok ? "Accepted: every step passed." : "Refused: see the failed step." }));
    const steps = el("ol", { className: "steps" });
    for (const s of r.steps) {
      const li = el("li", { className: s.ok ? "step ok" : "step failed" });
      li.append(el("span", { className: "step-name", text: s.step }), el("span", { className: "step-result", text: s.ok ? " — ok" : " — failed" }));
      if (s.reason) li.append(el("span", { className: "step-reason", text: `: ${s.reason}` }));
      if (s.detail) li.append(el("pre", { className: "step-detail", text: JSON.stringify(s.detail, null, 2) }));
      steps.append(li);
    }
    out.append(steps);
    if (r.claims) {
      out.append(el("h3", { text: "Claims of the token that would be issued" }));
      out.append(el("pre", { className: "claims", text: JSON.stringify(r.claims, null, 2) }));
    }
  }

  // ---- wiring ---------------------------------------------------------------------------------

  const guard = (fn) => (event) => {
    Promise.resolve(fn(event)).catch(() => setStatus("The request failed: the server did not answer.", "error"));
  };

  document.addEventListener("DOMContentLoaded", () => {
    $("sign-in").addEventListener("submit", guard(signIn));
    $("sign-out").addEventListener("click", () => signOut());
    $("reload").addEventListener("click", guard(refreshList));
    for (const b of document.querySelectorAll("button.tab")) b.addEventListener("click", () => showTab(b.dataset.tab));
    $("onboard").addEventListener("submit", guard(onboard));
    $("onboard-preview-button").addEventListener("click", guard(previewOnboard));
    for (const id of ["onboard-id", "onboard-url", "onboard-file", "onboard-entity", "onboard-source-url", "onboard-source-file"]) {
      $(id).addEventListener("change", () => void ($("onboard-save-button").disabled = true));
    }
    $("rotate").addEventListener("submit", guard(rotate));
    $("rotate-preview-button").addEventListener("click", guard(previewRotate));
    $("rotate-idp").addEventListener("change", guard(showRolloverState));
    $("settings").addEventListener("submit", guard(saveSettings));
    $("settings-load").addEventListener("click", guard(loadSettings));
    $("audit-filter").addEventListener("submit", guard((e) => {
      e.preventDefault();
      return loadAudit(false);
    }));
    $("audit-more").addEventListener("click", guard(() => loadAudit(true)));
    $("explain").addEventListener("submit", guard(explain));
  });
})();
