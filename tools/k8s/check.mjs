// check.mjs - offline check of Kubernetes manifests (tools/check_k8s.sh).
//
//   node tools/k8s/check.mjs [--selftest CASES.yaml] DIR
//
// What `kubectl apply --dry-run=client` with client-side validation would
// reject, without a cluster:
//
//  1. schema: every document is turned into a TypeScript object literal typed
//     with its kind's interface from the pinned `kubernetes-types` package
//     (generated from the Kubernetes 1.30 OpenAPI schema) and type-checked by
//     the pinned TypeScript compiler, in memory: an unknown or misspelt field
//     (excess property), a wrong type, a missing required field, a kind or
//     apiVersion that does not exist are all errors. YAML is read as YAML 1.1,
//     as kubectl reads it (so `yes` is a boolean), duplicate keys refused.
//  2. references between the documents of DIR: selectors match the pod
//     template's labels, Service and probe ports name a container port,
//     volume mounts and ConfigMap refs resolve, the HPA and PDB target the
//     Deployment, kustomization.yaml lists every manifest and only those.
//  3. the pod security this project promises (docker/README.md): non-root,
//     no privilege escalation, read-only root filesystem with /tmp mounted
//     (the daemon spools uploads there), every capability dropped, seccomp
//     RuntimeDefault, requests and limits, /healthz liveness and /readyz
//     readiness probes, and, when GENORISK_HEALTH_LISTEN is set (in the
//     container's env or a ConfigMap it loads), probes on that listener's
//     port, which the container declares.
//
// With --selftest, each case of CASES.yaml breaks one manifest of DIR on
// purpose (rename, set or delete one field), writes the broken copy under
// build/k8s-check/selftest/, and must be rejected with the expected message;
// DIR itself must pass. Prints one line per file or case and a closing
// "check-k8s: N passed, M failed"; exit 0 only when M is 0.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import YAML from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const typesDir = path.join(here, "node_modules", "kubernetes-types");

// ---- YAML ---------------------------------------------------------------------

// parseFile(name, text) -> { name, text, docs: [{ index, value, doc, lc }], errors }
function parseFile(name, text) {
  const lc = new YAML.LineCounter();
  const out = { name, text, docs: [], errors: [] };
  const docs = YAML.parseAllDocuments(text, { version: "1.1", uniqueKeys: true, lineCounter: lc, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, index) => {
    for (const e of doc.errors) {
      const line = e.pos ? lc.linePos(e.pos[0]).line : 0;
      out.errors.push({ file: name, line, where: "", msg: `YAML: ${e.message.split("\n")[0]}` });
    }
    if (doc.errors.length) return;
    const value = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return; // empty document
    out.docs.push({ index, value, doc, lc, file: name });
  });
  return out;
}

// The source line of PATH (array of keys and indexes) in a parsed document;
// the deepest existing ancestor when PATH itself is not there.
function yamlLine(d, p) {
  let node = d.doc.contents;
  let offset = node && node.range ? node.range[0] : 0;
  for (const seg of p) {
    if (YAML.isMap(node)) {
      const pair = node.items.find((it) => (YAML.isScalar(it.key) ? it.key.value : it.key) === seg);
      if (!pair) break;
      if (pair.key && pair.key.range) offset = pair.key.range[0];
      node = pair.value;
    } else if (YAML.isSeq(node)) {
      const item = node.items[seg];
      if (!item) break;
      if (item.range) offset = item.range[0];
      node = item;
    } else break;
  }
  return d.lc.linePos(offset).line;
}

function fmtPath(p) {
  let s = "";
  for (const seg of p) s += typeof seg === "number" ? `[${seg}]` : (s ? "." : "") + seg;
  return s;
}

// ---- 1. schema, by the TypeScript compiler ---------------------------------

// "apps/v1" -> "apps/v1", "v1" -> "core/v1", "networking.k8s.io/v1" -> "networking/v1"
function typesModule(apiVersion) {
  if (typeof apiVersion !== "string" || !apiVersion) return null;
  const parts = apiVersion.split("/");
  if (parts.length === 1) return `core/${parts[0]}`;
  if (parts.length !== 2) return null;
  return `${parts[0].split(".")[0]}/${parts[1]}`;
}

const declCache = new Map();
function kindExists(mod, kind) {
  const f = path.join(typesDir, `${mod}.d.ts`);
  if (!declCache.has(f)) declCache.set(f, fs.existsSync(f) ? fs.readFileSync(f, "utf8") : null);
  const text = declCache.get(f);
  if (text === null) return "no-module";
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(kind)) return "no-kind";
  return new RegExp(`^export interface ${kind} \\{`, "m").test(text) ? "ok" : "no-kind";
}

// Serialises VALUE as a TypeScript literal, one key or item per line, and
// records which document path each line holds.
function serialize(value, p, depth, out, head) {
  const pad = "  ".repeat(depth + 1);
  if (Array.isArray(value)) {
    if (!value.length) return out.push({ t: `${head}[]`, p });
    out.push({ t: `${head}[`, p });
    value.forEach((v, i) => {
      serialize(v, [...p, i], depth + 1, out, pad);
      if (i < value.length - 1) out[out.length - 1].t += ",";
    });
    out.push({ t: `${"  ".repeat(depth)}]`, p });
  } else if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (!keys.length) return out.push({ t: `${head}{}`, p });
    out.push({ t: `${head}{`, p });
    keys.forEach((k, i) => {
      const key = /^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k);
      serialize(value[k], [...p, k], depth + 1, out, `${pad}${key}: `);
      if (i < keys.length - 1) out[out.length - 1].t += ",";
    });
    out.push({ t: `${"  ".repeat(depth)}}`, p });
  } else {
    // YAML timestamps and the like have no JSON form: keep them as strings
    out.push({ t: head + (value instanceof Date ? JSON.stringify(value.toISOString()) : JSON.stringify(value)), p });
  }
}

// typeCheck(docs) -> problems. DOCS: parsed documents of any number of files.
function typeCheck(docs) {
  const problems = [];
  const virtual = new Map(); // file name -> { text, lines, d }
  docs.forEach((d, n) => {
    const v = d.value;
    const where = `${v.kind || "?"}/${(v.metadata && v.metadata.name) || "?"}`;
    const push = (p, msg) => problems.push({ file: d.file, line: yamlLine(d, p), where, msg });
    if (typeof v !== "object" || Array.isArray(v)) return push([], "a document must be a mapping");
    if (typeof v.apiVersion !== "string") return push(["apiVersion"], "apiVersion is missing");
    if (typeof v.kind !== "string") return push(["kind"], "kind is missing");
    if (v.apiVersion.startsWith("kustomize.config.k8s.io/")) return; // checked in checkKustomization
    if (!v.metadata || typeof v.metadata.name !== "string" || !v.metadata.name)
      push(["metadata"], "metadata.name is missing");
    const mod = typesModule(v.apiVersion);
    const known = mod ? kindExists(mod, v.kind) : "no-module";
    if (known === "no-module") return push(["apiVersion"], `unknown apiVersion ${v.apiVersion}`);
    if (known === "no-kind") return push(["kind"], `no kind ${v.kind} in ${v.apiVersion}`);
    const lines = [];
    serialize(v, [], 0, lines, `const doc: K.${v.kind} = `);
    const header = [`import type * as K from "kubernetes-types/${mod}";`];
    const text = `${header.join("\n")}\n${lines.map((l) => l.t).join("\n")};\nexport {};\n`;
    const fname = path.join(here, `.virtual/doc${n}.ts`);
    virtual.set(fname, { text, lines, header: header.length, d, where });
  });
  if (!virtual.size) return problems;

  const options = {
    strict: true, noEmit: true, skipLibCheck: true, types: [], lib: ["lib.es2020.d.ts"],
    target: ts.ScriptTarget.ES2020, module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Node10, baseUrl: here,
    paths: { "kubernetes-types/*": [path.join(typesDir, "*")] },
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (f, lang, ...rest) =>
    virtual.has(f) ? ts.createSourceFile(f, virtual.get(f).text, lang, true) : getSourceFile(f, lang, ...rest);
  host.fileExists = (f) => virtual.has(f) || fileExists(f);
  host.readFile = (f) => (virtual.has(f) ? virtual.get(f).text : readFile(f));
  const program = ts.createProgram([...virtual.keys()], options, host);
  const diags = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  for (const f of virtual.keys()) {
    const sf = program.getSourceFile(f);
    diags.push(...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf));
  }
  for (const dg of diags) {
    const msg = ts.flattenDiagnosticMessageText(dg.messageText, " ");
    const v = dg.file && virtual.get(dg.file.fileName);
    if (!v) {
      problems.push({ file: "(typescript)", line: 0, where: "", msg });
      continue;
    }
    const { line } = dg.file.getLineAndCharacterOfPosition(dg.start || 0);
    const entry = v.lines[line - v.header] || v.lines[0];
    problems.push({
      file: v.d.file, line: yamlLine(v.d, entry.p), where: `${v.where} ${fmtPath(entry.p)}`.trim(),
      msg: msg.replace(/typeof import\("[^"]*"\)\./g, ""),
    });
  }
  return problems;
}

// ---- 2 and 3. references and pod security --------------------------------

function matches(selector, labels) {
  if (!selector || typeof selector !== "object") return false;
  const ml = selector.matchLabels || {};
  if (!Object.keys(ml).length && !(selector.matchExpressions || []).length) return false;
  if (selector.matchExpressions && selector.matchExpressions.length) return false; // not used here
  return Object.entries(ml).every(([k, val]) => labels && labels[k] === val);
}

function semantic(docs) {
  const problems = [];
  const byKind = (k) => docs.filter((d) => d.value.kind === k);
  const deployments = byKind("Deployment");
  const configMaps = new Set(byKind("ConfigMap").map((d) => d.value.metadata.name));
  const configData = new Map(byKind("ConfigMap").map((d) => [d.value.metadata.name, d.value.data || {}]));
  const add = (d, p, msg) => problems.push({
    file: d.file, line: yamlLine(d, p), where: `${d.value.kind}/${d.value.metadata.name} ${fmtPath(p)}`.trim(), msg,
  });
  const get = (o, p) => p.reduce((x, k) => (x == null ? undefined : x[k]), o);

  for (const d of deployments) {
    const v = d.value;
    const spec = v.spec || {};
    const tpl = spec.template || {};
    const labels = (tpl.metadata && tpl.metadata.labels) || {};
    if (!matches(spec.selector, labels))
      add(d, ["spec", "selector"], "selector does not match the pod template's labels");
    const pod = tpl.spec || {};
    const psc = pod.securityContext || {};
    if (get(psc, ["seccompProfile", "type"]) !== "RuntimeDefault")
      add(d, ["spec", "template", "spec", "securityContext"], "policy: seccompProfile.type must be RuntimeDefault");
    const volumes = new Set((pod.volumes || []).map((x) => x.name));
    const groups = [["initContainers", pod.initContainers || []], ["containers", pod.containers || []]];
    for (const [group, list] of groups) {
      list.forEach((c, i) => {
        const base = ["spec", "template", "spec", group, i];
        const sc = c.securityContext || {};
        const need = (cond, p, msg) => { if (!cond) add(d, [...base, ...p], `policy: ${msg}`); };
        need(sc.runAsNonRoot === true || (sc.runAsNonRoot === undefined && psc.runAsNonRoot === true),
          ["securityContext"], "runAsNonRoot must be true");
        const uid = sc.runAsUser !== undefined ? sc.runAsUser : psc.runAsUser;
        need(uid === undefined || uid !== 0, ["securityContext"], "runAsUser must not be 0");
        need(sc.allowPrivilegeEscalation === false, ["securityContext"], "allowPrivilegeEscalation must be false");
        need(sc.readOnlyRootFilesystem === true, ["securityContext"], "readOnlyRootFilesystem must be true");
        need(sc.privileged !== true, ["securityContext"], "privileged must not be set");
        const caps = sc.capabilities || {};
        need(Array.isArray(caps.drop) && caps.drop.includes("ALL"), ["securityContext"], "capabilities.drop must hold ALL");
        need(!caps.add || !caps.add.length, ["securityContext", "capabilities"], "no capability may be added");
        for (const r of ["requests", "limits"])
          for (const k of ["cpu", "memory"])
            need(get(c, ["resources", r, k]) !== undefined, ["resources"], `resources.${r}.${k} must be set`);
        (c.volumeMounts || []).forEach((m, j) => {
          if (!volumes.has(m.name)) add(d, [...base, "volumeMounts", j, "name"], `no volume named ${m.name}`);
        });
        (c.envFrom || []).forEach((e, j) => {
          const n = get(e, ["configMapRef", "name"]);
          if (n && !configMaps.has(n) && get(e, ["configMapRef", "optional"]) !== true)
            add(d, [...base, "envFrom", j], `no ConfigMap named ${n} among these manifests`);
        });
        if (group !== "containers") return;
        const portNames = new Set((c.ports || []).map((x) => x.name).filter(Boolean));
        const portNums = new Set((c.ports || []).map((x) => x.containerPort));
        for (const [probe, want] of [["livenessProbe", "/healthz"], ["readinessProbe", "/readyz"]]) {
          const hg = get(c, [probe, "httpGet"]);
          if (!hg) { add(d, [...base], `policy: ${probe} must be an httpGet on ${want}`); continue; }
          if (hg.path !== want) add(d, [...base, probe, "httpGet", "path"], `policy: ${probe} must probe ${want}, not ${hg.path}`);
        }
        for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) {
          const port = get(c, [probe, "httpGet", "port"]);
          if (port === undefined) continue;
          if (typeof port === "string" ? !portNames.has(port) : !portNums.has(port))
            add(d, [...base, probe, "httpGet", "port"], `${probe} port ${port} is not a port of the container`);
        }
        // The daemon's environment as the kubelet builds it (env wins over
        // envFrom): GENORISK_HEALTH_LISTEN moves the probes to a listener
        // with connections of its own, which they must then use.
        const envs = {};
        for (const e of c.envFrom || [])
          Object.assign(envs, configData.get(get(e, ["configMapRef", "name"])) || {});
        for (const e of c.env || []) if (e.value !== undefined) envs[e.name] = e.value;
        if (envs.GENORISK_HEALTH_LISTEN !== undefined) {
          const hp = Number(String(envs.GENORISK_HEALTH_LISTEN).split(":").pop());
          const named = new Map((c.ports || []).filter((x) => x.name).map((x) => [x.name, x.containerPort]));
          if (!portNums.has(hp))
            add(d, [...base, "ports"], `policy: GENORISK_HEALTH_LISTEN port ${hp} is not a port of the container`);
          for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) {
            const port = get(c, [probe, "httpGet", "port"]);
            if (port === undefined) continue;
            if ((typeof port === "string" ? named.get(port) : port) !== hp)
              add(d, [...base, probe, "httpGet", "port"],
                `policy: ${probe} must use the health listener's port ${hp} (GENORISK_HEALTH_LISTEN), not ${port}`);
          }
        }
        if (sc.readOnlyRootFilesystem === true && !(c.volumeMounts || []).some((m) => m.mountPath === "/tmp"))
          add(d, [...base, "volumeMounts"], "policy: a read-only root filesystem needs a volume at /tmp (uploads are spooled there)");
      });
    }
  }

  const podsOf = (selector) => deployments.filter((d) => matches(selector, get(d.value, ["spec", "template", "metadata", "labels"])));
  for (const d of byKind("Service")) {
    const spec = d.value.spec || {};
    const sel = spec.selector || {};
    const targets = podsOf({ matchLabels: sel });
    if (!targets.length) { add(d, ["spec", "selector"], "selects no pod of these Deployments"); continue; }
    (spec.ports || []).forEach((p, i) => {
      const tp = p.targetPort === undefined ? p.port : p.targetPort;
      const ok = targets.some((t) => (get(t.value, ["spec", "template", "spec", "containers"]) || []).some((c) =>
        (c.ports || []).some((cp) => (typeof tp === "string" ? cp.name === tp : cp.containerPort === tp))));
      if (!ok) add(d, ["spec", "ports", i, "targetPort"], `targetPort ${tp} is no container port of the selected pods`);
    });
  }
  for (const d of byKind("HorizontalPodAutoscaler")) {
    const spec = d.value.spec || {};
    const ref = spec.scaleTargetRef || {};
    const t = docs.find((x) => x.value.kind === ref.kind && x.value.apiVersion === ref.apiVersion && x.value.metadata.name === ref.name);
    if (!t) { add(d, ["spec", "scaleTargetRef"], `targets ${ref.apiVersion} ${ref.kind}/${ref.name}, not among these manifests`); continue; }
    if (spec.minReplicas !== undefined && spec.maxReplicas < spec.minReplicas)
      add(d, ["spec", "maxReplicas"], "maxReplicas is below minReplicas");
    (spec.metrics || []).forEach((m, i) => {
      const r = m.type === "Resource" && m.resource;
      if (!r || get(r, ["target", "type"]) !== "Utilization") return;
      const cs = get(t.value, ["spec", "template", "spec", "containers"]) || [];
      if (!cs.every((c) => get(c, ["resources", "requests", r.name]) !== undefined))
        add(d, ["spec", "metrics", i], `${r.name} utilization needs a ${r.name} request on every container`);
    });
  }
  for (const d of byKind("PodDisruptionBudget")) {
    const spec = d.value.spec || {};
    const targets = podsOf(spec.selector);
    if (!targets.length) { add(d, ["spec", "selector"], "selects no pod of these Deployments"); continue; }
    // the fewest replicas a selected Deployment may run: its HPA's
    // minReplicas when one scales it, else its own replicas
    const hpaMin = Math.min(...targets.map((t) => {
      const h = byKind("HorizontalPodAutoscaler").find((x) =>
        get(x.value, ["spec", "scaleTargetRef", "kind"]) === "Deployment" &&
        get(x.value, ["spec", "scaleTargetRef", "name"]) === t.value.metadata.name);
      return h ? get(h.value, ["spec", "minReplicas"]) ?? 1 : get(t.value, ["spec", "replicas"]) ?? 1;
    }));
    if (typeof spec.minAvailable === "number" && spec.minAvailable >= hpaMin)
      add(d, ["spec", "minAvailable"], `minAvailable ${spec.minAvailable} >= the ${hpaMin} replica(s) there may be: no node could ever be drained`);
  }
  return problems;
}

// kustomization.yaml: known keys only, every listed resource exists, every
// manifest of the directory is listed, image overrides name an image in use.
function checkKustomization(dir, files, kfile) {
  const problems = [];
  const d = kfile.docs[0];
  if (!d) return [{ file: kfile.name, line: 1, where: "", msg: "empty kustomization" }];
  const v = d.value;
  const add = (p, msg) => problems.push({ file: kfile.name, line: yamlLine(d, p), where: `Kustomization ${fmtPath(p)}`.trim(), msg });
  const known = new Set(["apiVersion", "kind", "resources", "images", "namespace", "namePrefix", "nameSuffix",
    "labels", "commonAnnotations", "patches", "configMapGenerator", "secretGenerator", "generatorOptions",
    "components", "replicas", "metadata"]);
  for (const k of Object.keys(v)) if (!known.has(k)) add([k], `unknown kustomization field ${k}`);
  if (v.apiVersion !== "kustomize.config.k8s.io/v1beta1") add(["apiVersion"], "apiVersion must be kustomize.config.k8s.io/v1beta1");
  if (v.kind !== "Kustomization") add(["kind"], "kind must be Kustomization");
  const listed = Array.isArray(v.resources) ? v.resources : [];
  listed.forEach((r, i) => {
    if (typeof r !== "string" || !files.has(r)) add(["resources", i], `resource ${r} is not a manifest of ${dir}`);
  });
  for (const f of files.keys())
    if (f !== "kustomization.yaml" && !listed.includes(f)) add(["resources"], `${f} is not listed in resources`);
  const images = new Set();
  for (const [, pf] of files)
    for (const doc of pf.docs)
      for (const g of ["initContainers", "containers"])
        for (const c of ((((doc.value.spec || {}).template || {}).spec || {})[g] || []))
          if (typeof c.image === "string") images.add(c.image.replace(/[:@].*$/, ""));
  (Array.isArray(v.images) ? v.images : []).forEach((im, i) => {
    if (!im || typeof im.name !== "string" || !images.has(im.name)) add(["images", i, "name"], `image ${im && im.name} is used by no container`);
    for (const k of Object.keys(im || {}))
      if (!["name", "newName", "newTag", "digest"].includes(k)) add(["images", i, k], `unknown images field ${k}`);
  });
  return problems;
}

// ---- a set: one directory's manifests ------------------------------------------

// checkSet(dir, overrides) -> { files: Map(name -> parsed), problems }
// OVERRIDES: Map(file name -> text) replacing files of DIR (self-test).
function loadSet(dir, overrides = new Map(), label = dir) {
  const names = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  const files = new Map();
  for (const n of names) {
    const text = overrides.has(n) ? overrides.get(n) : fs.readFileSync(path.join(dir, n), "utf8");
    files.set(n, parseFile(path.join(label, n), text));
  }
  return files;
}

function checkLoaded(dir, files, typeProblems) {
  const problems = [...typeProblems];
  for (const f of files.values()) problems.push(...f.errors);
  const manifests = new Map([...files].filter(([n]) => n !== "kustomization.yaml"));
  const docs = [...manifests.values()].flatMap((f) => f.docs).filter((d) =>
    d.value && typeof d.value === "object" && d.value.metadata && typeof d.value.metadata.name === "string");
  problems.push(...semantic(docs));
  if (files.has("kustomization.yaml")) problems.push(...checkKustomization(dir, manifests, files.get("kustomization.yaml")));
  return problems;
}

function show(p) {
  return `${p.file}:${p.line}: ${p.where ? p.where + ": " : ""}${p.msg}`;
}

// ---- self-test mutations --------------------------------------------------------

function mutate(text, c) {
  if (c.op === "text") { // a plain text edit, for what only YAML's syntax shows
    if (!text.includes(c.from)) throw new Error(`case "${c.name}": ${c.file} has no "${c.from}"`);
    return text.replace(c.from, c.to);
  }
  const docs = YAML.parseAllDocuments(text, { version: "1.1" });
  const doc = docs[c.doc || 0];
  const p = c.path.split("/").slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  if (!doc.hasIn(p)) throw new Error(`case "${c.name}": ${c.file} has no ${c.path}`);
  if (c.op === "set") doc.setIn(p, doc.createNode(c.value));
  else if (c.op === "delete") doc.deleteIn(p);
  else if (c.op === "rename") {
    const parent = doc.getIn(p.slice(0, -1), true);
    const pair = parent.items.find((it) => it.key.value === p[p.length - 1]);
    pair.key = doc.createNode(c.to);
  } else throw new Error(`case "${c.name}": unknown op ${c.op}`);
  return docs.map((d) => String(d)).join("---\n");
}

// ---- main -------------------------------------------------------------------------

function main(argv) {
  let selftest = null;
  const args = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--selftest") selftest = argv[++i];
    else args.push(argv[i]);
  }
  if (args.length !== 1) {
    console.error("usage: node tools/k8s/check.mjs [--selftest CASES.yaml] DIR");
    return 2;
  }
  const dir = args[0];
  let passed = 0;
  let failed = 0;

  // Every set (DIR, then one per case) is type-checked in one program.
  const sets = [{ label: dir, files: loadSet(dir) }];
  let cases = [];
  if (selftest) {
    cases = YAML.parse(fs.readFileSync(selftest, "utf8"));
    const outRoot = path.join("build", "k8s-check", "selftest");
    cases.forEach((c, i) => {
      const orig = fs.readFileSync(path.join(dir, c.file), "utf8");
      const mutated = mutate(orig, c);
      if (mutated === orig) throw new Error(`case "${c.name}" changes nothing`);
      const broken = `# check-k8s self-test, broken on purpose: ${c.name}\n${mutated}`;
      const label = path.join(outRoot, String(i + 1).padStart(2, "0"));
      try {
        fs.mkdirSync(label, { recursive: true });
        fs.writeFileSync(path.join(label, c.file), broken);
      } catch { /* the copy is for people to read; the check uses the text */ }
      sets.push({ label, c, files: loadSet(dir, new Map([[c.file, broken]]), label) });
    });
  }
  const allDocs = sets.flatMap((s) => [...s.files.values()].flatMap((f) => f.docs));
  const typeProblems = typeCheck(allDocs);
  const mine = (s) => typeProblems.filter((p) => p.file.startsWith(s.label + path.sep));

  const [real, ...rest] = sets;
  const problems = checkLoaded(dir, real.files, mine(real));
  for (const [n, f] of real.files) {
    const ps = problems.filter((p) => p.file === f.name);
    if (ps.length) {
      failed++;
      console.log(`  FAIL ${f.name}`);
      for (const p of ps) console.log(`       ${show(p)}`);
    } else {
      passed++;
      const kinds = f.docs.map((d) => d.value.kind).join(", ");
      console.log(`  ok   ${f.name} (${kinds || n})`);
    }
  }
  for (const p of problems.filter((q) => ![...real.files.values()].some((f) => f.name === q.file))) {
    failed++;
    console.log(`  FAIL ${show(p)}`);
  }

  for (const p of typeProblems.filter((q) => !sets.some((s) => q.file.startsWith(s.label + path.sep)))) {
    failed++;
    console.log(`  FAIL ${show(p)}`);
  }

  for (const s of rest) {
    const ps = checkLoaded(dir, s.files, mine(s));
    const target = path.join(s.label, s.c.file);
    const hit = ps.filter((p) => p.file === target && show(p).includes(s.c.expect));
    if (hit.length) {
      passed++;
      console.log(`  ok   self-test "${s.c.name}" rejected: ${show(hit[0])}`);
    } else {
      failed++;
      console.log(`  FAIL self-test "${s.c.name}" (${target}) was not rejected with "${s.c.expect}"`);
      for (const p of ps) console.log(`       got: ${show(p)}`);
      if (!ps.length) console.log("       got: no problem at all");
    }
  }
  console.log(`check-k8s: ${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
