#!/usr/bin/python3
"""docker/lint.py: static checks of docker/Dockerfile and docker/compose.yaml
for machines without a Docker daemon (docker/lint.sh runs it).

Prints one line per check ("ok - ..." / "not ok - ...") and
"docker lint: N passed, N failed"; exit status 1 on any failure.
"""
import os
import re
import subprocess
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
passed = failed = 0


def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok - " + what)
    else:
        failed += 1
        print("not ok - " + what + (": " + detail if detail else ""))


def dockerfile_stages(path):
    """Parse a Dockerfile into {stage: [(instruction, argument), ...]}, with
    continuation lines joined and comments dropped; also the global ARGs."""
    lines, cur = [], ""
    for raw in open(path, encoding="utf-8"):
        s = raw.rstrip("\n")
        if not cur and (s.strip().startswith("#") or not s.strip()):
            continue
        if s.strip().startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        lines.append(cur + s)
        cur = ""
    stages, args, order, name = {}, {}, [], None
    for line in lines:
        ins, _, arg = line.strip().partition(" ")
        ins = ins.upper()
        if ins == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", arg, re.I)
            name = m.group(2) or "stage%d" % len(order)
            order.append(name)
            stages[name] = [("FROM", m.group(1))]
        elif name is None:
            if ins == "ARG":
                k, _, v = arg.partition("=")
                args[k.strip()] = v.strip()
        else:
            stages[name].append((ins, arg.strip()))
    return stages, args, order


def apt_packages(run):
    m = re.search(r"apt-get install ([^&;]*)", run)
    if not m:
        return []
    return [w for w in m.group(1).split() if not w.startswith("-")]


def main():
    df = os.path.join(HERE, "Dockerfile")
    stages, args, order = dockerfile_stages(df)
    deps = open(os.path.join(ROOT, "scripts", "deps.sh"), encoding="utf-8").read()

    # ---- Dockerfile ----
    for st in order:
        base = stages[st][0][1]
        base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), base)
        check(base.startswith("debian:12") or base in order, "stage %s is based on Debian 12 (%s)" % (st, base))
    for st in order:
        if st == "build":
            continue
        users = [a for i, a in stages[st] if i == "USER"]
        check(users and users[-1] not in ("root", "0"), "stage %s runs as an unprivileged user (%s)" % (st, users[-1] if users else "root"))
    secretish = re.compile(r"(?i)(password|passwd|secret|token|private|_key)\b\s*[= ]\s*\S")
    leaks = ["%s %s" % (i, a) for st in order for i, a in stages[st] if i in ("ENV", "ARG", "LABEL") and secretish.search(a)]
    check(not leaks, "no secret in ENV, ARG or LABEL", "; ".join(leaks))
    bad_copy, missing = [], []
    for st in order:
        for i, a in stages[st]:
            if i not in ("COPY", "ADD"):
                continue
            if i == "ADD":
                bad_copy.append("ADD " + a)
            words = [w for w in a.split() if not w.startswith("--")]
            if "--from=" in a:
                continue
            for src in words[:-1]:
                if re.search(r"secret|\.pem$|key", src):
                    bad_copy.append(src)
                if not os.path.exists(os.path.join(ROOT, src)):
                    missing.append(src)
    ign_path = os.path.join(HERE, "Dockerfile.dockerignore")
    ign = [l.strip() for l in open(ign_path, encoding="utf-8")] if os.path.exists(ign_path) else []
    ign = [l for l in ign if l and not l.startswith("#")]
    allowed = [l[1:].rstrip("/") for l in ign if l.startswith("!")]
    check(ign[:1] == ["*"], "Dockerfile.dockerignore starts from an empty build context ('*')")
    sources = sorted({w for st in order for i, a in stages[st] if i == "COPY" and "--from=" not in a
                      for w in [x for x in a.split() if not x.startswith("--")][:-1]})
    unlisted = [src for src in sources if not any(src.rstrip("/") == p or src.startswith(p + "/") for p in allowed)]
    check(not unlisted, "every COPY source is let through Dockerfile.dockerignore", ", ".join(unlisted))
    check(not any("secret" in p for p in allowed), "no secret is let into the build context")
    check(not bad_copy, "no ADD, no secret or key file copied into an image", ", ".join(bad_copy))
    check(not missing, "every COPY source exists in the build context (repository root)", ", ".join(missing))
    pkgs, style = [], []
    for st in order:
        for i, a in stages[st]:
            if i == "RUN" and "apt-get install" in a:
                if "--no-install-recommends" not in a or "rm -rf /var/lib/apt/lists" not in a:
                    style.append(st)
                pkgs += apt_packages(a)
    check(not style, "apt-get install with --no-install-recommends and cleaned lists", ", ".join(style))
    unknown = []
    for p in sorted(set(pkgs)):
        r = subprocess.run(["apt-cache", "show", "--no-all-versions", p], capture_output=True)
        if r.returncode != 0 or not r.stdout:
            unknown.append(p)
    check(not unknown, "%d Debian packages of the images exist in Debian 12" % len(set(pkgs)), ", ".join(unknown))
    notdeps = [p for p in sorted(set(pkgs)) if not re.search(r"(^|\s)%s(\s|$)" % re.escape(p), deps)
               and not re.match(r"lib.*\d", p) and p not in ("curl",)]
    check(not notdeps, "the images' packages are those of scripts/deps.sh (or their runtime libraries)", ", ".join(notdeps))

    # ---- compose.yaml ----
    cf = os.path.join(HERE, "compose.yaml")
    try:
        compose = yaml.safe_load(open(cf, encoding="utf-8"))
        check(isinstance(compose, dict), "compose.yaml parses")
    except yaml.YAMLError as e:
        check(False, "compose.yaml parses", str(e))
        return
    services = compose.get("services", {})
    for k in compose:
        check(k in ("name", "services", "volumes", "secrets", "networks", "configs") or k.startswith("x-"),
              "top-level key %s is a compose key" % k)
    for want in ("etcd", "db1", "db2", "gateway", "mailer", "backup"):
        check(want in services, "service %s is defined" % want)
    built = {s.get("image") for s in services.values() if "build" in s}
    vols = set((compose.get("volumes") or {}).keys())
    secrets = compose.get("secrets") or {}
    for name, s in services.items():
        if "build" in s:
            b = s["build"]
            dfile = os.path.join(HERE, b.get("context", "."), b.get("dockerfile", "Dockerfile"))
            check(os.path.exists(dfile) and b.get("target") in order,
                  "%s builds target %s of %s" % (name, b.get("target"), os.path.relpath(dfile, ROOT)))
        else:
            check(s.get("image") in built, "%s uses an image built by this file (%s)" % (name, s.get("image")))
        deps_ = s.get("depends_on") or []
        check(all(d in services for d in deps_), "%s depends only on defined services" % name)
        for v in s.get("volumes") or []:
            src = v.split(":")[0]
            check(src in vols, "%s mounts declared volume %s" % (name, src))
        for sec in s.get("secrets") or []:
            sec = sec if isinstance(sec, str) else sec.get("source")
            check(sec in secrets, "%s uses declared secret %s" % (name, sec))
        env = s.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.partition("=")[::2] for e in env)
        leaked = [k for k, v in env.items() if re.search(r"(?i)password|secret|token|key", k) and v not in (None, "")]
        check(not leaked, "%s has no secret in its environment" % name, ", ".join(leaked))
        ep = (s.get("entrypoint") or [None])[0]
        if ep and ep.startswith("/usr/local/bin/"):
            check(os.path.exists(os.path.join(HERE, os.path.basename(ep))), "%s entrypoint %s is in docker/" % (name, ep))
    published = [n for n, s in services.items() if s.get("ports")]
    check(published == ["gateway"], "only the gateway publishes ports", ", ".join(published))
    for n in ("db1", "db2"):
        env = services.get(n, {}).get("environment") or {}
        check("NODE_NAME" in env and "ETCD_HOSTS" in env, "%s sets NODE_NAME and ETCD_HOSTS" % n)
    for name, sec in secrets.items():
        f = sec.get("file", "")
        check(f.startswith("./secrets/"), "secret %s is a file under docker/secrets" % name, f)
    ign = subprocess.run(["git", "-C", ROOT, "check-ignore", "-q", "docker/secrets/pg_superuser_password"])
    check(ign.returncode == 0, "docker/secrets/ is ignored by git")
    tracked = subprocess.run(["git", "-C", ROOT, "ls-files", "docker/secrets"], capture_output=True, text=True).stdout.strip()
    check(not tracked, "no secret file is tracked by git", tracked)


main()
print("docker lint: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
