#!/usr/bin/env python3
"""Offline checks of deploy/ that the Kubernetes schemas do not cover.

    check.py kubernetes BUILT.yaml   a built overlay: custom resources against
                                     deploy/schemas/, references between objects
    check.py compose deploy/compose.yaml
                                     syntax, services, secrets, volumes, files
    check.py settings PASSERELLE BUILT.yaml...
                                     every setting deploy/ gives (Containerfile,
                                     compose, ConfigMaps and env, systemd) is
                                     accepted by the binary's configuration

Run by tests/deploy.rs with the pinned tools' Python (PyYAML, jsonschema).
Prints one line per problem and exits 1 when there is any.
"""

import os
import re
import subprocess
import sys
import tempfile

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(HERE, "schemas")


class Problems:
    def __init__(self):
        self.lines = []

    def add(self, where, message):
        self.lines.append(f"{where}: {message}")

    def exit(self, what):
        for line in self.lines:
            print(line)
        if self.lines:
            print(f"{len(self.lines)} problem(s) in {what}")
            sys.exit(1)
        print(f"{what}: ok")


# ---------------------------------------------------------------- Kubernetes


def is_builtin(api_version):
    """Groups the Kubernetes schemas (kubernetes-validate) cover."""
    if "/" not in api_version:
        return True  # the core group: v1
    group = api_version.split("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def schema_for(api_version, kind):
    group, version = api_version.split("/")
    path = os.path.join(SCHEMAS, f"{group}_{version}_{kind}.json")
    if not os.path.exists(path):
        return None, path
    with open(path) as f:
        return yaml.safe_load(f), path


def check_kubernetes(path):
    problems = Problems()
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    by_kind = {}
    for doc in docs:
        where = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        by_kind.setdefault(doc.get("kind"), {})[doc["metadata"]["name"]] = doc
        api = doc.get("apiVersion", "")
        if is_builtin(api):
            continue
        schema, schema_path = schema_for(api, doc.get("kind"))
        if schema is None:
            problems.add(where, f"no schema of ours for {api} {doc.get('kind')} ({schema_path})")
            continue
        validator = jsonschema.Draft202012Validator(schema)
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
            field = ".".join(str(p) for p in error.path) or "(top)"
            problems.add(where, f"{field}: {error.message}")
    check_references(by_kind, problems)
    problems.exit(path)


def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def check_references(by_kind, problems):
    """What the API server accepts but leaves broken: names and labels that
    point at nothing."""
    deployments = by_kind.get("Deployment", {})
    services = by_kind.get("Service", {})
    clusters = by_kind.get("Cluster", {})
    stores = by_kind.get("ObjectStore", {})

    pod_templates = {}
    for name, dep in deployments.items():
        spec = dep["spec"]
        labels = spec["template"]["metadata"].get("labels", {})
        pod_templates[name] = labels
        if not labels_match(spec["selector"].get("matchLabels"), labels):
            problems.add(f"Deployment/{name}", "selector does not match the pod template's labels")
        pod = spec["template"]["spec"]
        volumes = {v["name"] for v in pod.get("volumes", [])}
        for c in pod.get("initContainers", []) + pod.get("containers", []):
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    problems.add(f"Deployment/{name}", f"container {c['name']} mounts unknown volume {m['name']}")
            ports = {p.get("name") for p in c.get("ports", [])}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                port = c.get(probe, {}).get("httpGet", {}).get("port")
                if isinstance(port, str) and port not in ports:
                    problems.add(f"Deployment/{name}", f"{probe} of {c['name']} names unknown port {port}")
            for env in c.get("env", []):
                if env["name"].endswith("_FILE") or env["name"] == "PGSSLROOTCERT":
                    mounted = [m["mountPath"] for m in c.get("volumeMounts", [])]
                    if not any(env.get("value", "").startswith(p.rstrip("/") + "/") for p in mounted):
                        problems.add(f"Deployment/{name}", f"{env['name']} points outside the mounted volumes")
        for v in pod.get("volumes", []):
            for source in v.get("projected", {}).get("sources", []):
                secret = source.get("secret", {}).get("name", "")
                for made in ("-app", "-ca"):
                    if secret.endswith(made) and secret[: -len(made)] not in clusters:
                        problems.add(f"Deployment/{name}", f"secret {secret} is not made by any Cluster")
        for c in pod.get("initContainers", []) + pod.get("containers", []):
            for env in c.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef", {}).get("name", "")
                if ref.endswith("-app") and ref[: -len("-app")] not in clusters:
                    problems.add(f"Deployment/{name}", f"{env['name']}: secret {ref} is not made by any Cluster")
                if env["name"] == "PASSERELLE_DATABASE__READ_URL":
                    host = env.get("value", "").split("@")[-1].split(":")[0].split("/")[0]
                    if not any(host == f"{c}-ro" or host.startswith(f"{c}-ro.") for c in clusters):
                        problems.add(f"Deployment/{name}", f"read_url {host} is not a Cluster's read-only Service")

    for name, svc in services.items():
        selector = svc["spec"].get("selector", {})
        if not any(labels_match(selector, labels) for labels in pod_templates.values()):
            problems.add(f"Service/{name}", "selects no pod template")

    def service_port(svc_name, port):
        svc = services.get(svc_name)
        if svc is None:
            return False
        return any(p.get("name") == port.get("name") or p.get("port") == port.get("number") for p in svc["spec"]["ports"])

    for name, ing in by_kind.get("Ingress", {}).items():
        for rule in ing["spec"].get("rules", []):
            for p in rule.get("http", {}).get("paths", []):
                backend = p["backend"]["service"]
                if not service_port(backend["name"], backend["port"]):
                    problems.add(f"Ingress/{name}", f"backend {backend['name']} {backend['port']} does not exist")

    for name, sm in by_kind.get("ServiceMonitor", {}).items():
        selector = sm["spec"]["selector"].get("matchLabels", {})
        matched = [s for s in services.values() if labels_match(selector, s["metadata"].get("labels", {}))]
        if not matched:
            problems.add(f"ServiceMonitor/{name}", "selects no Service")
        for ep in sm["spec"].get("endpoints", []):
            if "port" in ep and not any(service_port(s["metadata"]["name"], {"name": ep["port"]}) for s in matched):
                problems.add(f"ServiceMonitor/{name}", f"port {ep['port']} is on no selected Service")

    for kind in ("HorizontalPodAutoscaler",):
        for name, hpa in by_kind.get(kind, {}).items():
            target = hpa["spec"]["scaleTargetRef"]
            if target["name"] not in by_kind.get(target["kind"], {}):
                problems.add(f"{kind}/{name}", f"scales unknown {target['kind']} {target['name']}")
            if hpa["spec"].get("minReplicas", 1) > hpa["spec"]["maxReplicas"]:
                problems.add(f"{kind}/{name}", "minReplicas above maxReplicas")

    for name, pdb in by_kind.get("PodDisruptionBudget", {}).items():
        selector = pdb["spec"]["selector"].get("matchLabels", {})
        if not any(labels_match(selector, labels) for labels in pod_templates.values()):
            problems.add(f"PodDisruptionBudget/{name}", "selects no pod template")

    for name, np in by_kind.get("NetworkPolicy", {}).items():
        selector = np["spec"]["podSelector"].get("matchLabels", {})
        if not any(labels_match(selector, labels) for labels in pod_templates.values()):
            problems.add(f"NetworkPolicy/{name}", "selects no pod template")
        for rule in np["spec"].get("egress", []):
            for peer in rule.get("to", []):
                cluster = peer.get("podSelector", {}).get("matchLabels", {}).get("cnpg.io/cluster")
                if cluster is not None and cluster not in clusters:
                    problems.add(f"NetworkPolicy/{name}", f"allows egress to unknown Cluster {cluster}")

    for name, pm in by_kind.get("PodMonitor", {}).items():
        cluster = pm["spec"]["selector"].get("matchLabels", {}).get("cnpg.io/cluster")
        if cluster is not None and cluster not in clusters:
            problems.add(f"PodMonitor/{name}", f"selects unknown Cluster {cluster}")

    for name, cluster in clusters.items():
        for plugin in cluster["spec"].get("plugins", []):
            store = plugin.get("parameters", {}).get("barmanObjectName")
            if store is not None and store not in stores:
                problems.add(f"Cluster/{name}", f"plugin {plugin['name']} names unknown ObjectStore {store}")
        sync = cluster["spec"].get("postgresql", {}).get("synchronous")
        if sync and sync["number"] >= cluster["spec"]["instances"]:
            problems.add(f"Cluster/{name}", "more synchronous standbys than standbys")
    for name, sb in by_kind.get("ScheduledBackup", {}).items():
        if sb["spec"]["cluster"]["name"] not in clusters:
            problems.add(f"ScheduledBackup/{name}", f"backs up unknown Cluster {sb['spec']['cluster']['name']}")


# ------------------------------------------------------------------- Compose

SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "secrets", "configs",
    "volumes", "tmpfs", "ports", "expose", "depends_on", "healthcheck", "restart", "read_only",
    "cap_drop", "cap_add", "security_opt", "user", "working_dir", "networks", "labels", "logging",
    "deploy", "stop_grace_period", "stop_signal", "init", "hostname", "ulimits", "profiles",
    "pull_policy", "container_name", "extra_hosts",
}
TOP_KEYS = {"name", "services", "secrets", "volumes", "networks", "configs", "include"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def generated_secrets(compose_dir):
    """The files compose-secrets.sh makes, made in a throwaway directory."""
    script = os.path.join(compose_dir, "compose-secrets.sh")
    if not os.path.exists(script):
        return set()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "secrets")
        subprocess.run(["bash", script], env={**os.environ, "SECRETS_DIR": out}, check=True, capture_output=True)
        made = set(os.listdir(out))
        # The URL carries the password the database is given.
        url_path, pw_path = os.path.join(out, "database_url"), os.path.join(out, "postgres_password")
        if os.path.exists(url_path) and os.path.exists(pw_path):
            with open(url_path) as u, open(pw_path) as p:
                if p.read().strip() not in u.read():
                    raise SystemExit("compose-secrets.sh: database_url does not carry postgres_password")
        return made


def check_compose(path):
    problems = Problems()
    compose_dir = os.path.dirname(os.path.abspath(path))
    with open(path) as f:
        doc = yaml.safe_load(f)
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), dict):
        problems.add(path, "no services")
        problems.exit(path)
    for key in doc:
        if key not in TOP_KEYS and not key.startswith("x-"):
            problems.add(path, f"unknown top-level key {key}")
    services = doc["services"]
    secrets = doc.get("secrets") or {}
    volumes = doc.get("volumes") or {}
    made = generated_secrets(compose_dir)

    for name, secret in secrets.items():
        file = secret.get("file")
        if file is None:
            problems.add(f"secrets.{name}", "no file")
            continue
        full = os.path.normpath(os.path.join(compose_dir, file))
        if not os.path.exists(full) and not (
            os.path.dirname(full) == os.path.join(compose_dir, "secrets") and os.path.basename(full) in made
        ):
            problems.add(f"secrets.{name}", f"{file} neither exists nor is made by compose-secrets.sh")

    for name, svc in services.items():
        where = f"services.{name}"
        for key in svc:
            if key not in SERVICE_KEYS and not key.startswith("x-"):
                problems.add(where, f"unknown key {key}")
        if "image" not in svc and "build" not in svc:
            problems.add(where, "neither image nor build")
        build = svc.get("build")
        if isinstance(build, dict):
            context = os.path.normpath(os.path.join(compose_dir, build.get("context", ".")))
            if not os.path.isdir(context):
                problems.add(where, f"build context {context} does not exist")
            elif not os.path.isfile(os.path.join(context, build.get("dockerfile", "Dockerfile"))):
                problems.add(where, f"build file {build.get('dockerfile')} does not exist in {context}")
        mine = set()
        for s in svc.get("secrets", []):
            source = s if isinstance(s, str) else s.get("source")
            mine.add(source if isinstance(s, str) else s.get("target", source))
            if source not in secrets:
                problems.add(where, f"unknown secret {source}")
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
        for var, value in env.items():
            if var.endswith("_FILE"):
                m = re.fullmatch(r"/run/secrets/(.+)", str(value))
                if not m or m.group(1) not in mine:
                    problems.add(where, f"{var}={value} is not one of the service's secrets")
        for v in svc.get("volumes", []):
            source = v.split(":")[0] if isinstance(v, str) else v.get("source")
            if source.startswith((".", "/")):
                if not os.path.exists(os.path.normpath(os.path.join(compose_dir, source))):
                    problems.add(where, f"mounted file {source} does not exist")
            elif source not in volumes:
                problems.add(where, f"unknown volume {source}")
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {} for d in deps}
        for dep, how in deps.items():
            if dep not in services:
                problems.add(where, f"depends on unknown service {dep}")
            elif (how or {}).get("condition", "service_started") not in CONDITIONS:
                problems.add(where, f"unknown condition {how['condition']}")
            elif (how or {}).get("condition") == "service_healthy" and "healthcheck" not in services[dep] \
                    and "build" not in services[dep]:
                # An image built here has its HEALTHCHECK in the Containerfile.
                problems.add(where, f"waits for {dep} to be healthy, which has no healthcheck")
        for p in svc.get("ports", []):
            if not re.fullmatch(r"(\d+\.\d+\.\d+\.\d+:)?\d+(:\d+)?(/(tcp|udp))?", str(p)):
                problems.add(where, f"port {p} is not HOST:CONTAINER")

    # No cycle in depends_on.
    def visit(name, seen):
        if name in seen:
            problems.add(f"services.{name}", "depends_on cycle: " + " -> ".join(seen + [name]))
            return
        deps = services.get(name, {}).get("depends_on") or {}
        for dep in deps:
            if dep in services:
                visit(dep, seen + [name])

    for name in services:
        visit(name, [])

    # The proxy's upstreams are services of this file.
    for svc in services.values():
        for v in svc.get("volumes", []):
            source = v.split(":")[0] if isinstance(v, str) else v.get("source")
            full = os.path.normpath(os.path.join(compose_dir, source))
            if os.path.basename(full) == "Caddyfile" and os.path.isfile(full):
                with open(full) as f:
                    for line in f:
                        words = line.split()
                        if words[:1] == ["reverse_proxy"]:
                            for upstream in words[1:]:
                                host = upstream.split(":")[0]
                                if upstream != "{" and host not in services:
                                    problems.add("Caddyfile", f"upstream {upstream} is no service")
    problems.exit(path)

# ------------------------------------------------------------------ Settings


def containerfile_env():
    """The ENV instructions of the Containerfile, continuation lines joined."""
    with open(os.path.join(HERE, "container", "Containerfile")) as f:
        text = f.read().replace("\\\n", " ")
    env = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for pair in line[4:].split():
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def compose_envs():
    with open(os.path.join(HERE, "compose.yaml")) as f:
        doc = yaml.safe_load(f)
    image = containerfile_env()
    for name, svc in doc["services"].items():
        if "build" in svc:
            yield f"compose.yaml services.{name}", {**image, **{k: str(v) for k, v in (svc.get("environment") or {}).items()}}


def kubernetes_envs(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    image = containerfile_env()
    for d in docs:
        if d["kind"] != "Deployment":
            continue
        pod = d["spec"]["template"]["spec"]
        for c in pod.get("initContainers", []) + pod["containers"]:
            if "command" in c:
                # Runs something else than the binary (a shell step): it
                # reads no setting.
                continue
            env = dict(image)
            for source in c.get("envFrom", []):
                env.update(maps[source["configMapRef"]["name"]])
            env.update({e["name"]: e.get("value", "") for e in c.get("env", [])})
            yield f"{os.path.basename(path)} Deployment/{d['metadata']['name']} {c['name']}", env


def systemd_env():
    env = {}
    with open(os.path.join(HERE, "systemd", "passerelle.env.example")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, value = line.partition("=")
                env[name] = value
    with open(os.path.join(HERE, "systemd", "passerelle.service")) as f:
        for line in f:
            if line.startswith("Environment="):
                name, _, value = line[len("Environment="):].strip().partition("=")
                env[name] = value
    yield "systemd passerelle.service + passerelle.env.example", env


def check_settings(passerelle, built):
    """Runs `passerelle schema`, which loads the configuration before it prints
    anything, under each environment deploy/ sets: an unknown key, a value of
    the wrong type or a *_FILE that cannot be read stops it, naming the key."""
    problems = Problems()
    sources = list(compose_envs()) + list(systemd_env())
    for path in built:
        sources += list(kubernetes_envs(path))
    with tempfile.TemporaryDirectory() as tmp:
        secret = os.path.join(tmp, "secret")
        with open(secret, "w") as f:
            f.write("placeholder\n")
        for where, env in sources:
            run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp}
            for name, value in env.items():
                # The files are mounted by the platform; any readable file stands in.
                run_env[name] = secret if name.endswith("_FILE") else value
            if not any(name.startswith("PASSERELLE_") for name in env):
                problems.add(where, "sets no PASSERELLE_* variable: not read from here?")
            done = subprocess.run([os.path.abspath(passerelle), "schema"], env=run_env, cwd=tmp, capture_output=True, text=True)
            if done.returncode != 0 or "type Query" not in done.stdout:
                problems.add(where, "refused: " + done.stderr.strip().replace("\n", " "))
    problems.exit(f"settings of {len(sources)} environments")


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("kubernetes", "compose", "settings"):
        print(__doc__)
        sys.exit(2)
    if sys.argv[1] == "kubernetes":
        check_kubernetes(sys.argv[2])
    elif sys.argv[1] == "compose":
        check_compose(sys.argv[2])
    else:
        check_settings(sys.argv[2], sys.argv[3:])


if __name__ == "__main__":
    main()
