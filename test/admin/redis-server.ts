/**
 * A private redis-server for admin tests that pause or share it: started on a free port, stopped
 * by its PID (never the shared one at 127.0.0.1:6379), paused with SIGSTOP and resumed with SIGCONT.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, connect } from "node:net";

export async function freePort(): Promise<number> {
  const srv = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => srv.once("listening", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export interface PrivateRedis {
  url: string;
  pid: number;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const proc: ChildProcess = spawn("/usr/bin/redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  // Wait until it accepts connections.
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  let paused = false;
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: proc.pid!,
    pause() {
      paused = true;
      process.kill(proc.pid!, "SIGSTOP");
    },
    resume() {
      paused = false;
      process.kill(proc.pid!, "SIGCONT");
    },
    async stop() {
      if (proc.exitCode !== null) return;
      if (paused) process.kill(proc.pid!, "SIGCONT");
      const exited = new Promise((r) => proc.once("exit", r));
      process.kill(proc.pid!, "SIGKILL");
      await exited;
    },
  };
}
