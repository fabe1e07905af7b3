// fedbridge admin page: a thin client of the admin API (/admin/idps). Plain JS, no dependencies.
// Security rules this file keeps:
//  - the admin token lives only in the `token` variable below: never in a URL, a cookie or storage;
//  - every value from the server or the user is rendered with textContent, never parsed as HTML;
//  - no inline script or style (the page is served with a strict Content-Security-Policy).
"use strict";

(() => {
  const ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
  const SAML2 = "urn:ietf:params:oauth:token-type:saml2";

  /** The admin's bearer token: memory only. */
  let token = "";
  /** The last listing, by id. */
  let idps = new Map();

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
    if (body && typeof body.error === "string") box.append(el("span", { text: `: ${body.error}` }));
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
  async function api(method, path, { json, xml, headers = {} } = {}) {
    const h = { Accept: "application/json", Authorization: `Bearer ${token}`, ...headers };
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
        data = await res.json();
      } catch {
        data = null;
      }
    }
    if (res.status === 401 && token) signOut("Your admin token was refused: sign in again.");
    return { status: res.status, ok: res.ok, etag: res.headers.get("ETag"), data };
  }

  const idpPath = (id, suffix = "") => `/admin/idps/${encodeURIComponent(id)}${suffix}`;

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
    setStatus("");
    render(res.data.idps);
  }

  function signOut(message = "") {
    token = "";
    idps = new Map();
    $("idp-rows").replaceChildren();
    $("explain-idp").replaceChildren();
    $("upload-result").replaceChildren();
    $("explain-result").replaceChildren();
    $("explain-token").value = "";
    $("app").hidden = true;
    $("who").hidden = true;
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

  function certificateList(certs) {
    const list = el("ul", { className: "certs" });
    for (const c of certs) {
      const flag = c.expired ? "expired" : c.expiresSoon ? "expiring" : "";
      const label = c.expired ? " (expired)" : c.expiresSoon ? " (expires soon)" : "";
      const item = el("li", { className: `cert ${flag}`.trim(), title: `SHA-256 ${c.fingerprint}\nvalid from ${c.notBefore}` });
      item.append(el("span", { className: "mono", text: `${String(c.fingerprint).slice(0, 16)}…` }), el("span", { text: " expires " }));
      item.append(el("time", { className: "not-after", text: c.notAfter }), el("span", { className: "flag", text: label }));
      list.append(item);
    }
    return list;
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
        const rotate = el("button", { type: "button", text: "Rotate" });
        rotate.addEventListener("click", () => chooseForUpload(i.id));
        actions.append(rotate);
        if (i.source === "url") {
          const refresh = el("button", { type: "button", text: "Refresh" });
          refresh.addEventListener("click", () => void refreshFromUrl(i.id));
          actions.append(refresh);
        }
        const del = el("button", { type: "button", text: "Delete" });
        del.addEventListener("click", () => void remove(i.id));
        actions.append(del);
      }
      const explain = el("button", { type: "button", text: "Explain" });
      explain.addEventListener("click", () => chooseForExplain(i.id));
      actions.append(explain);
      tr.append(
        el("td", { className: "id mono", text: i.id }),
        el("td", { className: "entity mono", text: i.entityId }),
        el("td", { text: i.editable ? i.source : "config file (read-only)" }),
        el("td", { text: i.version === undefined || i.version === null ? "" : String(i.version) }),
        el("td", {}, [certificateList(i.signingCertificates || [])]),
        metadata,
        el("td", { text: i.updatedAt ? `${day(i.updatedAt)} by ${i.updatedBy}` : "" }),
        actions,
      );
      return tr;
    });
    $("idp-rows").replaceChildren(...rows);
    const select = $("explain-idp");
    const chosen = select.value;
    select.replaceChildren(...list.map((i) => {
      const o = el("option", { text: `${i.id} (${i.entityId})` });
      o.value = i.id;
      return o;
    }));
    if (idps.has(chosen)) select.value = chosen;
    updateUploadMode();
  }

  function chooseForUpload(id) {
    $("upload-id").value = id;
    updateUploadMode();
    $("upload-file").focus();
  }

  function chooseForExplain(id) {
    $("explain-idp").value = id;
    $("explain-token").focus();
  }

  function updateUploadMode() {
    const id = $("upload-id").value.trim();
    const current = idps.get(id);
    $("upload-mode").textContent = !id
      ? "A new id creates an IdP; an existing one rotates its metadata."
      : current && current.editable
        ? `Rotates the metadata of ${id} (version ${current.version}).`
        : current
          ? `${id} comes from the config file and cannot be changed here.`
          : `Creates the IdP ${id}.`;
  }

  // ---- upload: create or rotate ---------------------------------------------------------------

  function readFile(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.onerror = () => reject(reader.error || new Error("cannot read the file"));
      reader.readAsText(file);
    });
  }

  async function upload(event) {
    event.preventDefault();
    const out = $("upload-result");
    const id = $("upload-id").value.trim();
    const file = $("upload-file").files[0];
    const force = $("upload-force").checked;
    if (!ID.test(id)) return showError(out, "Invalid IdP id (lower-case letters, digits, - and _).");
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
    let res;
    if (current && current.editable) {
      res = await api("PUT", idpPath(id, `/metadata${force ? "?force=true" : ""}`), { xml, headers: { "If-Match": `"${current.version}"` } });
    } else if (current) {
      return showError(out, `${id} comes from the config file and cannot be changed here.`);
    } else {
      let settings = {};
      const raw = $("upload-settings").value.trim();
      if (raw) {
        try {
          settings = JSON.parse(raw);
        } catch {
          return showError(out, "The settings are not valid JSON.");
        }
        if (typeof settings !== "object" || settings === null || Array.isArray(settings)) return showError(out, "The settings must be a JSON object.");
      }
      res = await api("PUT", idpPath(id), { json: { ...settings, metadata: xml, ...(force ? { force: true } : {}) } });
    }
    if (res.ok) {
      showOk(out, `${current ? "Rotated" : "Created"} ${id}: now version ${res.data.version}.`);
      $("upload-file").value = "";
      $("upload-force").checked = false;
      await refreshList();
    } else if (res.status === 412) {
      showError(out, `${id} was changed by someone else meanwhile: check the listing and upload again.`, res.data);
      await refreshList();
    } else {
      showError(out, `Upload refused (${res.status})`, res.data);
    }
  }

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
    const id = $("explain-idp").value;
    const raw = $("explain-token").value.trim();
    const client = $("explain-client").value.trim();
    if (!id) return showError(out, "Choose an IdP.");
    if (!raw) return showError(out, "Paste a subject token.");
    const subjectToken = raw.startsWith("<") ? base64url(raw) : raw.replace(/\s+/g, "");
    const res = await api("POST", idpPath(id, "/explain"), {
      json: { subject_token: subjectToken, subject_token_type: SAML2, ...(client ? { client_id: client } : {}) },
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
    $("upload").addEventListener("submit", guard(upload));
    $("upload-id").addEventListener("input", updateUploadMode);
    $("explain").addEventListener("submit", guard(explain));
  });
})();
