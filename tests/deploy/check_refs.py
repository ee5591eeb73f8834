#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The references that deploy/ makes, checked against the code and the
installed tree (tests/deploy/check.sh runs each subcommand; each prints one
line per problem and exits 1 if it found any).

  check_refs.py keys BIN              every option that deploy/ sets exists in
                                      `steward --config-doc` or `steward-loader
                                      --config-doc` (kafka.* is a prefix)
  check_refs.py confs OUT             writes each configuration deploy/ ships
                                      as OUT/NAME.conf (with its program) for
                                      check.sh to rewrite and validate with -n
  check_refs.py k8s ROOT_USR          every program, file and mount the k8s
                                      manifests name exists: in the
                                      PREFIX=/usr install tree ROOT_USR, in a
                                      ConfigMap key, or in the Secret copy
  check_refs.py units ROOT PREFIX     every absolute path in the Exec lines of
                                      the installed units exists in ROOT
  check_refs.py container ROOT_USR BIN  the Containerfile: its runtime stage
                                      installs the package of every library
                                      the programs link, its build stage the
                                      -dev package of every pkg-config module
                                      of the Makefile, it runs as non-root
  check_refs.py man BIN               each program's man page names every
                                      option of its --help text
  check_refs.py syscalls TRACE UNIT   every system call in the strace -f log
                                      TRACE passes UNIT's SystemCallFilter=
  check_refs.py anchors               every docs/*.md#section that deploy/
                                      (the alerts' runbook annotations) names
                                      is a heading of that page

Only the Python standard library and python3-yaml (yamllint's dependency).
"""
import glob
import os
import re
import subprocess
import sys

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
K8S = os.path.join(REPO, "deploy", "k8s")
PROGRAMS = ["steward", "steward-loader", "steward-audit", "steward-policy", "steward-pii"]
problems = []


def problem(msg):
    problems.append(msg)
    print("  " + msg)


def config_keys(bindir, prog):
    out = subprocess.run([os.path.join(bindir, prog), "--config-doc"], check=True,
                         capture_output=True, text=True).stdout
    return set(re.findall(r"^\| `([^`]+)`", out, re.M))


def conf_lines(text):
    """(line number, key, value) of each key = value line."""
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        key, sep, value = s.partition("=")
        yield n, key.strip(), value.strip() if sep else None


def k8s_docs():
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc:
                    yield os.path.relpath(path, REPO), doc


def configmaps():
    return {d["metadata"]["name"]: (p, d.get("data", {}))
            for p, d in k8s_docs() if d.get("kind") == "ConfigMap"}


def pod_spec(doc):
    spec = doc.get("spec", {})
    if doc.get("kind") == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec.get("template", {}).get("spec")


def shipped_confs():
    """(where, program, text) of every configuration deploy/ ships."""
    for name, prog in (("steward.conf", "steward"), ("steward-loader.conf", "steward-loader")):
        p = os.path.join("deploy", "systemd", name)
        with open(os.path.join(REPO, p)) as f:
            yield p, prog, f.read()
    with open(os.path.join(REPO, "deploy", "example.conf")) as f:
        yield "deploy/example.conf", "steward", f.read()
    for cm, (p, data) in configmaps().items():
        for key, text in data.items():
            if key.endswith(".conf"):
                prog = "steward-loader" if "loader" in key else "steward"
                yield "%s (ConfigMap %s, %s)" % (p, cm, key), prog, text


def cmd_keys(bindir):
    known = {p: config_keys(bindir, p) for p in ("steward", "steward-loader")}

    def ok(prog, key):
        return key in known[prog] or (key.startswith("kafka.") and "kafka.*" in known[prog])

    n = 0
    for where, prog, text in shipped_confs():
        for line, key, value in conf_lines(text):
            n += 1
            if value is None:
                problem("%s:%d: not a key = value line" % (where, line))
            elif not ok(prog, key):
                problem("%s:%d: %s has no option %r (%s --config-doc)" % (where, line, prog, key, prog))
    # -o key=value in the manifests' arguments
    for p, doc in k8s_docs():
        spec = pod_spec(doc)
        for c in (spec or {}).get("containers", []):
            args = c.get("args", [])
            prog = os.path.basename((c.get("command") or ["/usr/bin/steward"])[0])
            for i, a in enumerate(args):
                if a == "-o" and i + 1 < len(args):
                    n += 1
                    key = args[i + 1].split("=", 1)[0]
                    if prog in known and not ok(prog, key):
                        problem("%s: container %s: -o %s: no such option of %s" % (p, c["name"], key, prog))
    print("  %d option settings checked" % n)


def cmd_confs(out):
    os.makedirs(out, exist_ok=True)
    for i, (where, prog, text) in enumerate(shipped_confs()):
        name = "%02d-%s.conf" % (i, prog)
        with open(os.path.join(out, name), "w") as f:
            f.write(text)
        with open(os.path.join(out, name + ".where"), "w") as f:
            f.write(where + "\n")
    cms = configmaps()
    policy = cms["steward-policy"][1]["policy.yaml"]
    with open(os.path.join(out, "k8s-policy.yaml"), "w") as f:
        f.write(policy)


def mounts_of(container):
    return [(m["mountPath"], m["name"], m.get("subPath")) for m in container.get("volumeMounts", [])]


def cmd_k8s(root):
    cms = configmaps()
    n = 0
    for p, doc in k8s_docs():
        spec = pod_spec(doc)
        if not spec:
            continue
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        init_text = " ".join(" ".join(c.get("command", []) + c.get("args", []))
                             for c in spec.get("initContainers", []))
        for c in spec.get("initContainers", []) + spec.get("containers", []):
            where = "%s: container %s" % (p, c["name"])
            for m, vol, _ in mounts_of(c):
                n += 1
                if vol not in volumes:
                    problem("%s: mounts volume %s, which the pod does not define" % (where, vol))
                    continue
                v = volumes[vol]
                if "configMap" in v and v["configMap"]["name"] not in cms and \
                        v["configMap"]["name"] != "steward-pubkeys":
                    problem("%s: ConfigMap %s is not in deploy/k8s" % (where, v["configMap"]["name"]))
                if "secret" in v and v["secret"].get("defaultMode") != 0o400:
                    problem("%s: Secret volume %s must be mounted with defaultMode 0400" % (where, vol))
            # the program it runs
            if c.get("image", "").startswith("vllm/"):
                continue
            cmd = (c.get("command") or ["/usr/bin/steward"])[0]
            if cmd.startswith("/usr/"):
                n += 1
                if not os.access(root + cmd, os.X_OK):
                    problem("%s: %s is not in the PREFIX=/usr install tree" % (where, cmd))
            args = c.get("args", [])
            for i, a in enumerate(args):
                if a == "-c" and i + 1 < len(args):
                    n += 1
                    if not covered(args[i + 1], c, volumes, cms, init_text, root):
                        problem("%s: -c %s is not provided by any mount" % (where, args[i + 1]))
            # paths the configuration it reads names
            for mpath, vol, sub in mounts_of(c):
                v = volumes.get(vol, {})
                if "configMap" not in v or not sub or not sub.endswith(".conf"):
                    continue
                text = cms.get(v["configMap"]["name"], (None, {}))[1].get(sub, "")
                for line, key, value in conf_lines(text):
                    if value and value.startswith("/"):
                        n += 1
                        if not covered(value, c, volumes, cms, init_text, root):
                            problem("%s: %s line %d: %s = %s is neither installed nor mounted"
                                    % (where, sub, line, key, value))
    print("  %d references checked" % n)


def covered(path, container, volumes, cms, init_text, root):
    """path exists in the container: in the image's install tree, or under a
    mount (a ConfigMap key, a Secret copied by the init container, or a
    writable emptyDir)."""
    if path.startswith("/usr/") and os.path.exists(root + path):
        return True
    for mpath, vol, sub in mounts_of(container):
        v = volumes.get(vol, {})
        if path == mpath and sub:
            return "configMap" in v and sub in cms.get(v["configMap"]["name"], (None, {}))[1]
        if not path.startswith(mpath.rstrip("/") + "/"):
            continue
        rest = path[len(mpath.rstrip("/")) + 1:]
        if "configMap" in v:
            return rest in cms.get(v["configMap"]["name"], (None, {}))[1]
        if "emptyDir" in v:
            # a copy the init container makes, or a directory steward creates
            return v["emptyDir"].get("medium") != "Memory" or ("/" + rest) in init_text
        if "secret" in v:
            return True
    return False


def cmd_units(root, prefix):
    n = 0
    for unit in glob.glob(os.path.join(root + prefix, "lib/systemd/system/*.service")):
        with open(unit) as f:
            text = f.read()
        name = os.path.basename(unit)
        for line in text.splitlines():
            m = re.match(r"^(Exec\w+|ReadWritePaths|Environment)=(.*)$", line)
            if not m:
                continue
            for path in re.findall(r"(?<![\w$])(/[\w./-]+)", m.group(2)):
                n += 1
                if path.startswith(prefix + "/"):
                    ok = os.path.exists(root + path)
                elif path.startswith("/etc/steward/") and path.endswith(".conf"):
                    ok = os.path.exists(os.path.join(root + prefix, "share/steward/examples",
                                                     os.path.basename(path)))
                elif path in ("/var/lib/steward", "/etc/steward/pgpass"):
                    ok = True  # StateDirectory=; written by the operator (docs/deploy.md)
                else:
                    ok = os.path.exists(path)
                if not ok:
                    problem("%s: %s: %s exists neither in the install tree nor as an example"
                            % (name, m.group(1), path))
        if "steward -n" not in text and "steward-loader -n" not in text:
            problem("%s: no ExecStartPre validating the configuration (-n)" % name)
        # the spool of the example configuration is writable in the sandbox
        rw = re.findall(r"^ReadWritePaths=(.*)$", text, re.M)
        rw = [p for line in rw for p in line.split()]
        conf = re.search(r" -c (/etc/steward/\S+)", text)
        example = os.path.join(root + prefix, "share/steward/examples",
                               os.path.basename(conf.group(1))) if conf else ""
        if os.path.exists(example):
            with open(example) as f:
                for line, key, value in conf_lines(f.read()):
                    if key == "spool_dir":
                        n += 1
                        if not any(value == p or value.startswith(p.rstrip("/") + "/") for p in rw):
                            problem("%s: spool_dir = %s (%s) is not under ReadWritePaths %s"
                                    % (name, value, os.path.basename(example), " ".join(rw)))
    print("  %d paths checked" % n)


def multiarch():
    return subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip()


def package_of(pattern):
    r = subprocess.run(["dpkg", "-S", pattern], capture_output=True, text=True)
    pkgs = {l.split(":")[0] for l in r.stdout.splitlines() if ":" in l}
    return sorted(pkgs)


def stage_packages(stage_text):
    pkgs = set()
    for m in re.finditer(r"apt-get install((?:[^\n]*\\\n)*[^\n]*)", stage_text):
        for tok in m.group(1).replace("\\\n", " ").split():
            if tok.startswith("-") or tok == "&&":
                continue
            pkgs.add(tok)
    return pkgs


def cmd_container(root, bindir):
    with open(os.path.join(REPO, "deploy", "container", "Containerfile")) as f:
        text = f.read()
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    if len(stages) != 2:
        problem("Containerfile: expected two stages (build, runtime), found %d" % len(stages))
        return
    build, runtime = stages
    if not build.startswith("debian:12 "):
        problem("Containerfile: the build stage is not debian:12")
    if not runtime.startswith("debian:12-slim"):
        problem("Containerfile: the runtime stage is not debian:12-slim")
    run_pkgs, build_pkgs = stage_packages(runtime), stage_packages(build)
    arch = multiarch()
    needed = set()
    for p in PROGRAMS:
        out = subprocess.run(["readelf", "-d", os.path.join(bindir, p)], check=True,
                             capture_output=True, text=True).stdout
        needed |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))
    for lib in sorted(needed):
        pkgs = package_of("*/%s/%s" % (arch, lib))
        if not pkgs:
            problem("Containerfile: no Debian package owns %s" % lib)
        elif "libc6" in pkgs:
            continue  # in every Debian image
        elif not set(pkgs) & run_pkgs:
            problem("Containerfile: the runtime stage does not install %s (for %s)" % (pkgs[0], lib))
    # the build stage: the -dev package of every pkg-config module
    with open(os.path.join(REPO, "Makefile")) as f:
        mods = re.search(r"^PKGS\s*:=(.*)$", f.read(), re.M).group(1).split()
    for mod in mods:
        pc = subprocess.run(["pkg-config", "--variable=pcfiledir", mod], capture_output=True,
                            text=True).stdout.strip()
        pkgs = package_of(os.path.join(pc, mod + ".pc"))
        if pkgs and not set(pkgs) & build_pkgs:
            problem("Containerfile: the build stage does not install %s (pkg-config %s)" % (pkgs[0], mod))
    # -dev packages must stay out of the runtime stage
    for p in sorted(run_pkgs):
        if p.endswith("-dev") or p in ("curl", "wget", "build-essential"):
            problem("Containerfile: the runtime stage installs %s" % p)
    user = re.findall(r"^USER\s+(\S+)", runtime, re.M)
    if not user or user[-1].split(":")[0] in ("0", "root"):
        problem("Containerfile: the runtime stage does not switch to a non-root user")
    if not re.search(r"^EXPOSE\s", runtime, re.M):
        problem("Containerfile: no EXPOSE")
    if re.search(r"^HEALTHCHECK", runtime, re.M):
        problem("Containerfile: HEALTHCHECK (probes belong to the orchestrator)")
    for m in re.finditer(r"^COPY --from=build /out(/\S+)", runtime, re.M):
        if not os.path.exists(root + m.group(1)):
            problem("Containerfile: COPY %s: not in the PREFIX=/usr install tree" % m.group(1))
    ep = re.search(r'^ENTRYPOINT \["([^"]+)"', runtime, re.M)
    if not ep or not os.access(root + ep.group(1), os.X_OK):
        problem("Containerfile: ENTRYPOINT is not an installed program")
    print("  %d libraries, %d pkg-config modules checked" % (len(needed), len(mods)))


def cmd_man(bindir):
    n = 0
    for p in PROGRAMS:
        r = subprocess.run([os.path.join(bindir, p), "--help"], capture_output=True, text=True)
        usage = r.stdout + r.stderr
        with open(os.path.join(REPO, "docs", "man", p + ".1")) as f:
            page = f.read().replace("\\-", "-")
        opts = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])\b", usage))
        for o in sorted(opts):
            n += 1
            if not re.search(r"(?<![\w-])%s\b" % re.escape(o), page):
                problem("docs/man/%s.1 does not mention %s (from %s --help)" % (p, o, p))
    print("  %d options checked" % n)


def syscall_set(group, seen=None):
    """The system calls of a systemd-analyze syscall-filter group, nested
    groups expanded; a plain name stands for itself."""
    if not group.startswith("@"):
        return {group}
    seen = seen if seen is not None else set()
    if group in seen:
        return set()
    seen.add(group)
    out = subprocess.run(["systemd-analyze", "syscall-filter", group], check=True,
                         capture_output=True, text=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        line = line.strip()
        if line and not line.startswith("#"):
            calls |= syscall_set(line, seen)
    return calls


def cmd_syscalls(trace, unit):
    with open(unit) as f:
        filters = re.findall(r"^SystemCallFilter=(.*)$", f.read(), re.M)
    allowed, denied = set(), set()
    for line in filters:
        deny = line.startswith("~")
        for item in line.lstrip("~").split():
            (denied if deny else allowed).update(syscall_set(item))
    used = set()
    with open(trace) as f:
        for line in f:
            m = re.match(r"^\d+\s+([a-z_0-9]+)\(", line)
            if m:
                used.add(m.group(1))
    used.discard("execve")  # strace starting the program
    if not used:
        problem("%s: no system calls traced" % trace)
    for call in sorted(used):
        if call in denied or (allowed and call not in allowed):
            problem("%s: the sidecar calls %s, which SystemCallFilter= refuses"
                    % (os.path.basename(unit), call))
    print("  %d system calls checked against %d allowed" % (len(used), len(allowed - denied)))


def slug(heading):
    """GitHub's anchor of a markdown heading."""
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")


def cmd_anchors():
    n = 0
    for path in glob.glob(os.path.join(REPO, "deploy", "**", "*.y*ml"), recursive=True):
        with open(path) as f:
            text = f.read()
        for doc, anchor in re.findall(r"(docs/[\w.-]+\.md)#([\w-]+)", text):
            n += 1
            with open(os.path.join(REPO, doc)) as f:
                anchors = {slug(h) for h in re.findall(r"^#+ (.*)$", f.read(), re.M)}
            if anchor not in anchors:
                problem("%s: %s#%s: no such section" % (os.path.relpath(path, REPO), doc, anchor))
    print("  %d links checked" % n)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"keys": cmd_keys, "confs": cmd_confs, "k8s": cmd_k8s, "units": cmd_units,
     "container": cmd_container, "man": cmd_man, "anchors": cmd_anchors,
     "syscalls": cmd_syscalls}[cmd](*args)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
