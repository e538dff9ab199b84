#!/usr/bin/env python3
"""check_template.py checks template.yaml (and the templates it nests) against
the code, offline. Run it with the project venv (cfn-lint and aws-sam-cli):

    bash .ci/sam.sh run -- python .ci/check_template.py            # all checks
    bash .ci/sam.sh run -- python .ci/check_template.py --functions
        # print each function's build path (StackPath/LogicalId), one a line

Checks, for every AWS::Serverless::Function in every stack:

  build     Metadata BuildMethod is makefile, the runtime provided.al2023 and
            the handler bootstrap; `make -n build-<LogicalId>` in its CodeUri
            exists and builds ./functions/<dir>/ into $ARTIFACTS_DIR/bootstrap.
  env       every environment variable that package reads (Require("..."),
            Secret(ctx, sm, "...") and os.Getenv("...") in functions/<dir>/,
            plus those read by the shared/lambdaenv helpers it calls) is set
            on the function (Globals included). AWS_LAMBDA_FUNCTION_NAME is
            Lambda's own.
  secrets   each variable read with Secret() names a secret the function may
            GetSecretValue, and the function may read no other secret.

And once for the root template:

  local-api `sam local start-api` would see only the HTTP API's routes: no
            WebSocket route reaches SAM's local API parser (the WebSocket API
            lives in a nested template).

Variables set but never read are reported as notes, not failures.
"""
import os
import re
import subprocess
import sys
import tempfile

from cfnlint.decode import cfn_yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT_TEMPLATE = os.path.join(ROOT, "template.yaml")
LAMBDAENV = os.path.join(ROOT, "shared", "lambdaenv")
IGNORED_ENV = {"AWS_LAMBDA_FUNCTION_NAME"}

# How the Go code reads its configuration: (kind, pattern).
ENV_READS = [
    ("plain", re.compile(r'\bRequire\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)')),
    ("secret", re.compile(r'\bSecret\(\s*[^,()]+,\s*[^,()]+(?:\([^()]*\))?\s*,\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)')),
    ("plain", re.compile(r'\bGetenv\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)')),
]
FUNC_DECL = re.compile(r"^func\s+(?:\([^)]*\)\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*[\[(]", re.M)

failures = []
notes = []


def fail(msg):
    failures.append(msg)


def go_sources(directory):
    out = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".go") and not name.endswith("_test.go"):
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                out.append(f.read())
    return out


def strip_comments(src):
    src = re.sub(r"/\*.*?\*/", "", src, flags=re.S)
    return re.sub(r"//[^\n]*", "", src)


def env_reads(src):
    """{name: kind} read literally in src ("secret" wins over "plain")."""
    found = {}
    for kind, pattern in ENV_READS:
        for m in pattern.finditer(src):
            if kind == "secret" or m.group(1) not in found:
                found[m.group(1)] = kind
    return found


def lambdaenv_funcs():
    """{exported func: {name: kind}} for shared/lambdaenv, calls inside the
    package followed."""
    bodies = {}
    for src in go_sources(LAMBDAENV):
        src = strip_comments(src)
        decls = list(FUNC_DECL.finditer(src))
        for i, m in enumerate(decls):
            end = decls[i + 1].start() if i + 1 < len(decls) else len(src)
            bodies[m.group(1)] = src[m.end():end]
    direct = {name: env_reads(body) for name, body in bodies.items()}
    calls = {
        name: {other for other in bodies if other != name and re.search(r"\b%s\(" % re.escape(other), body)}
        for name, body in bodies.items()
    }

    def closure(name, seen):
        out = dict(direct[name])
        for other in calls[name] - seen:
            for k, v in closure(other, seen | {name}).items():
                if v == "secret" or k not in out:
                    out[k] = v
        return out

    return {name: closure(name, frozenset()) for name in bodies if name[:1].isupper()}


def package_env(pkg_dir, helpers):
    reads = {}
    for src in go_sources(pkg_dir):
        src = strip_comments(src)
        found = env_reads(src)
        for helper, names in helpers.items():
            if re.search(r"\blambdaenv\.%s\(" % re.escape(helper), src):
                for k, v in names.items():
                    if v == "secret" or k not in found:
                        found[k] = v
        for k, v in found.items():
            if v == "secret" or k not in reads:
                reads[k] = v
    return {k: v for k, v in reads.items() if k not in IGNORED_ENV}


def load_stacks(path, stack_path=""):
    """[(stack_path, template_path, template)] for path and every stack it
    nests with a local template."""
    tpl = cfn_yaml.load(path)
    stacks = [(stack_path, path, tpl)]
    for logical_id, res in (tpl.get("Resources") or {}).items():
        props = res.get("Properties") or {}
        location = None
        if res.get("Type") == "AWS::Serverless::Application":
            location = props.get("Location")
        elif res.get("Type") == "AWS::CloudFormation::Stack":
            location = props.get("TemplateURL")
        if isinstance(location, str) and not re.match(r"^(s3|https?)://", location):
            child = os.path.normpath(os.path.join(os.path.dirname(path), location))
            if not os.path.isfile(child):
                fail("%s: nested template %s not found" % (logical_id, location))
                continue
            child_path = "%s/%s" % (stack_path, logical_id) if stack_path else logical_id
            stacks.extend(load_stacks(child, child_path))
    return stacks


def functions(stacks):
    for stack_path, path, tpl in stacks:
        glob = ((tpl.get("Globals") or {}).get("Function")) or {}
        for logical_id, res in (tpl.get("Resources") or {}).items():
            if res.get("Type") != "AWS::Serverless::Function":
                continue
            props = dict(glob)
            props.update(res.get("Properties") or {})
            env = dict(((glob.get("Environment") or {}).get("Variables")) or {})
            env.update((((res.get("Properties") or {}).get("Environment") or {}).get("Variables")) or {})
            full = "%s/%s" % (stack_path, logical_id) if stack_path else logical_id
            yield full, logical_id, path, res, props, env


def check_build(full, logical_id, path, res, props):
    """The package directory the build target compiles, or None."""
    if (res.get("Metadata") or {}).get("BuildMethod") != "makefile":
        fail("%s: Metadata BuildMethod must be makefile" % full)
        return None
    if props.get("Runtime") != "provided.al2023" or props.get("Handler") != "bootstrap":
        fail("%s: want Runtime provided.al2023 and Handler bootstrap, got %r and %r"
             % (full, props.get("Runtime"), props.get("Handler")))
    code_uri = props.get("CodeUri")
    if not isinstance(code_uri, str):
        fail("%s: CodeUri must be a local directory" % full)
        return None
    src = os.path.normpath(os.path.join(os.path.dirname(path), code_uri))
    if not os.path.isfile(os.path.join(src, "Makefile")):
        fail("%s: no Makefile in CodeUri %s" % (full, os.path.relpath(src, ROOT)))
        return None
    with tempfile.TemporaryDirectory() as artifacts:
        run = subprocess.run(
            ["make", "--no-print-directory", "-n", "-C", src, "build-" + logical_id, "ARTIFACTS_DIR=" + artifacts],
            capture_output=True, text=True)
        if run.returncode != 0:
            fail("%s: make build-%s: %s" % (full, logical_id, (run.stderr or run.stdout).strip()))
            return None
        script = run.stdout
        if "-o %s/bootstrap" % artifacts not in script:
            fail("%s: make build-%s does not write $ARTIFACTS_DIR/bootstrap:\n%s" % (full, logical_id, script))
    pkgs = re.findall(r"\s\./functions/([A-Za-z0-9_./-]+)", script)
    if len(set(pkgs)) != 1:
        fail("%s: make build-%s should build one ./functions/<dir>, builds %s" % (full, logical_id, pkgs or "none"))
        return None
    pkg_dir = os.path.join(src, "functions", pkgs[0])
    if not os.path.isfile(os.path.join(pkg_dir, "main.go")):
        fail("%s: functions/%s/main.go does not exist" % (full, pkgs[0]))
        return None
    return pkg_dir


def secret_resources(props):
    """Resources of every Allow statement granting secretsmanager:GetSecretValue."""
    out = []
    for policy in props.get("Policies") or []:
        if not isinstance(policy, dict):
            continue
        for st in policy.get("Statement") or []:
            actions = st.get("Action") or []
            actions = [actions] if isinstance(actions, str) else actions
            if st.get("Effect") != "Allow" or not any(a in ("secretsmanager:GetSecretValue", "secretsmanager:*", "*") for a in actions):
                continue
            resources = st.get("Resource") or []
            out.extend(resources if isinstance(resources, list) else [resources])
    return out


def check_local_api():
    from samcli.lib.providers.api_provider import ApiProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    stacks, _ = SamLocalStackProvider.get_stacks(ROOT_TEMPLATE)
    try:
        routes = ApiProvider(stacks).routes
    except Exception as exc:  # what `sam local start-api` would die of
        fail("local-api: SAM's local API parser fails on template.yaml: %s" % exc)
        return
    for r in routes:
        if r.path.startswith("$") or "$connect" in r.path or "$default" in r.path:
            fail("local-api: sam local start-api would see WebSocket route %s" % r.path)
    print("ok   local-api: sam local start-api sees %d routes: %s"
          % (len(routes), ", ".join(sorted({r.path for r in routes}))))


def main(argv):
    stacks = load_stacks(ROOT_TEMPLATE)
    fns = list(functions(stacks))
    if argv[1:] == ["--functions"]:
        for full, *_ in fns:
            print(full)
        return 0 if not failures else 1
    if argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2

    print("templates: %s" % ", ".join(os.path.relpath(p, ROOT) for _, p, _ in stacks))
    helpers = lambdaenv_funcs()
    if not fns:
        fail("no AWS::Serverless::Function in template.yaml or its nested templates")
    for full, logical_id, path, res, props, env in fns:
        before = len(failures)
        pkg_dir = check_build(full, logical_id, path, res, props)
        if pkg_dir is None:
            continue
        pkg = os.path.relpath(pkg_dir, ROOT)
        reads = package_env(pkg_dir, helpers)
        for name in sorted(reads):
            if name not in env:
                fail("%s: %s reads %s, which the template does not set" % (full, pkg, name))
        for name in sorted(set(env) - set(reads)):
            notes.append("%s: %s is set but %s never reads it" % (full, name, pkg))
        allowed = secret_resources(props)
        secret_vars = sorted(n for n, k in reads.items() if k == "secret")
        for name in secret_vars:
            if name in env and env[name] not in allowed:
                fail("%s: reads secret %s (%s) but may not GetSecretValue on it" % (full, name, env[name]))
        wanted = [env[n] for n in secret_vars if n in env]
        for resource in allowed:
            if resource not in wanted:
                fail("%s: may GetSecretValue on %s, which it never reads" % (full, resource))
        if len(failures) == before:
            print("ok   %s: build-%s builds %s; env %s; secrets %s"
                  % (full, logical_id, pkg, ", ".join(sorted(reads)) or "(none)", ", ".join(secret_vars) or "(none)"))
    check_local_api()
    for n in notes:
        print("note %s" % n)
    for f in failures:
        print("FAIL %s" % f)
    print("check_template: %d functions, %d failures" % (len(fns), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
