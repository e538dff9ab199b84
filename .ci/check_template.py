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
  actions   every AWS action the function's code can call is allowed by its
            policy, and the policy allows nothing else: no wildcard actions,
            no action the code never calls, no policy templates or managed
            policies, and resources scoped (the table and, only when the code
            queries an index, its indexes; one WebSocket API's stage).
            How the calls are found: `go list -deps -json ./functions/<dir>`
            gives the repository packages the function links; in their
            sources every AWS SDK call shows as a composite literal of its
            input type (dynamodb.GetItemInput{...}, secretsmanager.
            GetSecretValueInput{...}, apigatewaymanagementapi.
            PostToConnectionInput{...}); a call counts only when the Go
            function around it is linked into the function's binary (built
            like the bootstrap, symbols kept, read with `go tool nm`), which
            is the linker's own reachability: lambdaenv's Notifier is in the
            API function's package set, but the API never posts, so it needs
            no execute-api:ManageConnections. A transaction needs the item
            actions of the items it writes (types.Put{} -> PutItem, Update,
            Delete, ConditionCheck -> ConditionCheckItem); TransactWriteItems
            and TransactGetItems have no IAM action of their own.

For every AWS::ECS::TaskDefinition (Metadata GreenroomCommand names the
command it runs): the actions check above, for its task role.

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


# --- actions: the AWS calls a function's code makes vs. its policy ---------

MODULE_CACHE = {}
SDK_PREFIX = "github.com/aws/aws-sdk-go-v2/service/"
# IAM actions of an SDK operation, by service package. None: the operation
# is authorized per item (see the transaction handling below).
SDK_ACTIONS = {
    "dynamodb": lambda op: None if op in ("TransactWriteItems", "TransactGetItems") else ["dynamodb:" + op],
    "secretsmanager": lambda op: ["secretsmanager:" + op],
    # PostToConnection, DeleteConnection and GetConnection are all one action.
    "apigatewaymanagementapi": lambda op: ["execute-api:ManageConnections"],
    "cloudwatch": lambda op: ["cloudwatch:" + op],
}
TRANSACT_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}
IMPORT_SPEC = re.compile(r'^\s*(?:import\s+)?(?:([A-Za-z_][A-Za-z0-9_]*)\s+)?"([^"]+)"', re.M)
FUNC_HEAD = re.compile(
    r"^func\s+(?:\(\s*[A-Za-z_0-9]*\s*(\*?)\s*([A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]]*\])?\s*\)\s*)?([A-Za-z_][A-Za-z0-9_]*)",
    re.M)


def module_path():
    if "module" not in MODULE_CACHE:
        with open(os.path.join(ROOT, "go.mod"), encoding="utf-8") as f:
            MODULE_CACHE["module"] = re.search(r"^module\s+(\S+)", f.read(), re.M).group(1)
    return MODULE_CACHE["module"]


def go_env():
    env = dict(os.environ)
    env.update({"GOOS": "linux", "GOARCH": "arm64", "CGO_ENABLED": "0", "GOFLAGS": "-tags=lambda.norpc"})
    return env


def repo_packages(pkg_rel):
    """[(import path, dir, [go files])] of the repository packages that
    ./pkg_rel links (go list -deps -json), for linux/arm64 like the build."""
    import json
    run = subprocess.run(["go", "list", "-deps", "-json", "./" + pkg_rel], cwd=ROOT, env=go_env(),
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError("go list -deps %s: %s" % (pkg_rel, run.stderr.strip()))
    dec, text, i, out = json.JSONDecoder(), run.stdout, 0, []
    mod = module_path()
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        obj, i = dec.raw_decode(text, i)
        ip = obj.get("ImportPath", "")
        if ip == mod or ip.startswith(mod + "/"):
            out.append((ip, obj["Dir"], obj.get("GoFiles") or []))
    return out


def linked_symbols(pkg_rel, tmp):
    """Text symbols of ./pkg_rel built as its bootstrap is (linux/arm64,
    static, lambda.norpc, trimpath) but with the symbol table kept."""
    binary = os.path.join(tmp, "bin")
    run = subprocess.run(["go", "build", "-trimpath", "-o", binary, "./" + pkg_rel], cwd=ROOT, env=go_env(),
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError("go build %s: %s" % (pkg_rel, run.stderr.strip()))
    nm = subprocess.run(["go", "tool", "nm", binary], cwd=ROOT, capture_output=True, text=True, check=True)
    syms = set()
    for line in nm.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[-2] in ("T", "t"):
            syms.add(parts[-1])
    return syms


def blank_literals(src):
    """src with the contents of string and rune literals blanked (same
    length), so braces inside them do not count."""
    def blank(m):
        t = m.group(0)
        return t[0] + re.sub(r"[^\n]", " ", t[1:-1]) + t[-1]
    return re.sub(r'"(?:\\.|[^"\\\n])*"|`[^`]*`|\'(?:\\.|[^\'\\\n])+\'', blank, src)


def func_bodies(src):
    """(symbol name within the package, body) of every top-level func."""
    clean = blank_literals(strip_comments(src))
    for m in FUNC_HEAD.finditer(clean):
        ptr, recv, name = m.group(1), m.group(2), m.group(3)
        symbol = ("(*%s).%s" % (recv, name) if ptr else "%s.%s" % (recv, name)) if recv else name
        start = clean.find("{", m.end())
        # The body's brace: skip the parameter and result lists' own braces
        # (interface{}, struct{}) by starting after the closing parenthesis
        # that ends the signature's line.
        eol = clean.find("\n", m.end())
        if eol != -1 and start > eol and not clean[m.end():eol].rstrip().endswith(("(", ",")):
            continue  # a declaration without a body
        depth, i = 0, start
        while i < len(clean):
            c = clean[i]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        yield symbol, clean[start:i + 1]


def is_linked(import_path, symbol, syms):
    name = "%s.%s" % (import_path, symbol)
    if name in syms:
        return True
    if "(*" in symbol or "." in symbol:  # generic receivers: pkg.(*T[...]).M
        recv, meth = symbol.rsplit(".", 1)
        pat = re.compile(re.escape(import_path + ".") + re.escape(recv).replace(r"\)", r"(?:\[[^\]]*\])?\)")
                         + r"(?:\[[^\]]*\])?\." + re.escape(meth) + r"(?:\.|$)")
        if any(pat.match(s) for s in syms):
            return True
    prefix = name + "."
    prefix_g = name + "["
    return any(s.startswith(prefix) or s.startswith(prefix_g) for s in syms)


def code_actions(pkg_rel, tmp):
    """({IAM action: [where]}, uses an index) for the AWS calls ./pkg_rel can
    make; failures for SDK services this script does not know."""
    syms = linked_symbols(pkg_rel, tmp)
    need, items, uses_index, transact, unknown = {}, {}, False, False, []
    for import_path, directory, files in repo_packages(pkg_rel):
        for name in files:
            path = os.path.join(directory, name)
            with open(path, encoding="utf-8") as f:
                src = f.read()
            aliases, types_aliases = {}, set()
            for m in IMPORT_SPEC.finditer(src):
                alias, imp = m.group(1), m.group(2)
                if imp.startswith(SDK_PREFIX):
                    rest = imp[len(SDK_PREFIX):]
                    if rest == "dynamodb/types":
                        types_aliases.add(alias or "types")
                    elif "/" not in rest:
                        aliases[alias or rest] = rest
            if not aliases and not types_aliases:
                continue
            rel = os.path.relpath(path, ROOT)
            for symbol, body in func_bodies(src):
                if not is_linked(import_path, symbol, syms):
                    continue
                where = "%s %s" % (rel, symbol)
                for m in re.finditer(r"\b([A-Za-z_][A-Za-z0-9_]*)\.([A-Z][A-Za-z0-9]*)Input\s*\{", body):
                    svc, op = aliases.get(m.group(1)), m.group(2)
                    if svc is None:
                        continue
                    if svc not in SDK_ACTIONS:
                        unknown.append("%s: calls %s.%s; teach check_template.py its IAM action" % (where, svc, op))
                        continue
                    if "%s%s.(*Client).%s" % (SDK_PREFIX, svc, op) not in syms:
                        continue  # the client method itself is not linked
                    actions = SDK_ACTIONS[svc](op)
                    if actions is None:  # a transaction: its items decide
                        transact = True
                        actions = []
                    for a in actions:
                        need.setdefault(a, []).append(where)
                    if svc == "dynamodb" and op == "Query" and re.search(r"\bIndexName\s*:", body):
                        uses_index = True
                # Transaction items, wherever they are built.
                for ta in types_aliases:
                    for m in re.finditer(r"\b%s\.(Put|Update|Delete|ConditionCheck|Get)\s*\{" % re.escape(ta), body):
                        items.setdefault(TRANSACT_ITEM_ACTIONS[m.group(1)], []).append(where + " (transaction item)")
    if transact:
        for a, where in items.items():
            need.setdefault(a, []).extend(where)
    for u in unknown:
        fail(u)
    return need, uses_index


def resource_text(r):
    """A resource as one string: Ref X -> ${X}, GetAtt A.B -> ${A.B}, Sub as written."""
    if isinstance(r, str):
        return r
    if isinstance(r, dict) and len(r) == 1:
        (k, v), = r.items()
        if k == "Ref":
            return "${%s}" % v
        if k == "Fn::GetAtt":
            return "${%s}" % (".".join(v) if isinstance(v, list) else v)
        if k == "Fn::Sub":
            return v if isinstance(v, str) else v[0]
    return repr(r)


def check_actions(full, props, need, uses_index):
    policies = props.get("Policies") or []
    if isinstance(policies, (str, dict)):
        policies = [policies]
    allowed = {}
    for policy in policies:
        if not isinstance(policy, dict) or "Statement" not in policy:
            fail("%s: policy %r is a managed policy or SAM policy template; write the statements out" % (full, policy))
            continue
        for st in policy.get("Statement") or []:
            if st.get("Effect") != "Allow":
                continue
            if "NotAction" in st or "NotResource" in st:
                fail("%s: statement %s uses NotAction/NotResource" % (full, st.get("Sid", "?")))
            actions = st.get("Action") or []
            actions = [actions] if isinstance(actions, str) else actions
            resources = st.get("Resource") or []
            resources = [resources] if not isinstance(resources, list) else resources
            texts = [resource_text(r) for r in resources]
            for a in actions:
                if "*" in a:
                    fail("%s: wildcard action %s" % (full, a))
                allowed.setdefault(a.lower(), (a, texts))
            for t in texts:
                stripped = t
                for ok in ("/index/*", "/@connections/*"):
                    if stripped.endswith(ok):
                        stripped = stripped[:-len(ok)]
                if "*" in stripped:
                    fail("%s: statement %s has an unscoped resource %s" % (full, st.get("Sid", "?"), t))
                if t.endswith("/index/*") and not uses_index:
                    fail("%s: statement %s allows the table's indexes (%s), which the code never queries"
                         % (full, st.get("Sid", "?"), t))
                if any(a.lower().startswith("dynamodb:") for a in actions) and \
                        not (t.startswith("${") and (t.endswith(".Arn}") or t.endswith("Arn}") or "/index/*" in t)):
                    fail("%s: statement %s: DynamoDB resource %s is not the table (or its indexes)"
                         % (full, st.get("Sid", "?"), t))
                if any(a.lower().startswith("execute-api:") for a in actions) and \
                        not re.search(r"^arn:\$\{AWS::Partition\}:execute-api:\$\{AWS::Region\}:\$\{AWS::AccountId\}:"
                                      r"\$\{[A-Za-z0-9_.]+\}/\$\{[A-Za-z0-9_.]+\}/(POST|DELETE|GET)/@connections/\*$", t):
                    fail("%s: statement %s: execute-api resource %s is not one API's stage and @connections"
                         % (full, st.get("Sid", "?"), t))
    for action in sorted(need):
        if action.lower() not in allowed:
            fail("%s: the code calls %s (%s) but the policy does not allow it"
                 % (full, action, "; ".join(sorted(set(need[action]))[:3])))
    needed = {a.lower() for a in need}
    for key, (action, _) in sorted(allowed.items()):
        if key not in needed:
            fail("%s: the policy allows %s, which the code never calls" % (full, action))
    if uses_index and not any(t.endswith("/index/*") for a, (_, ts) in allowed.items()
                              if a == "dynamodb:query" for t in ts):
        fail("%s: the code queries an index but dynamodb:Query is not allowed on the table's indexes" % full)


def check_task_roles(stacks):
    """The same actions check for ECS task roles: a task definition names
    the command it runs in Metadata GreenroomCommand (e.g.
    sfuworker/cmd/sfuworker); its TaskRoleArn's role must allow exactly what
    that command calls."""
    for stack_path, _, tpl in stacks:
        resources = tpl.get("Resources") or {}
        for logical_id, res in resources.items():
            if res.get("Type") != "AWS::ECS::TaskDefinition":
                continue
            full = "%s/%s" % (stack_path, logical_id) if stack_path else logical_id
            command = (res.get("Metadata") or {}).get("GreenroomCommand")
            if not command:
                fail("%s: Metadata GreenroomCommand must name the command the task runs" % full)
                continue
            role_ref = (res.get("Properties") or {}).get("TaskRoleArn")
            role_id = role_ref.get("Fn::GetAtt", [None])[0] if isinstance(role_ref, dict) else None
            if isinstance(role_id, str) and "." in role_id:
                role_id = role_id.split(".")[0]
            role = resources.get(role_id) if role_id else None
            if not role or role.get("Type") != "AWS::IAM::Role":
                fail("%s: TaskRoleArn must be !GetAtt <role in this template>.Arn" % full)
                continue
            rprops = role.get("Properties") or {}
            if rprops.get("ManagedPolicyArns"):
                fail("%s: task role %s has managed policies; write the statements out" % (full, role_id))
            policies = [p.get("PolicyDocument") or {} for p in rprops.get("Policies") or []]
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    need, uses_index = code_actions(command, tmp)
                except RuntimeError as exc:
                    fail("%s: %s" % (full, exc))
                    continue
            before = len(failures)
            check_actions("%s (%s)" % (full, role_id), {"Policies": policies}, need, uses_index)
            if len(failures) == before:
                print("ok   %s: task role %s allows exactly what %s calls: %s"
                      % (full, role_id, command, ", ".join(sorted(need)) or "(nothing)"))


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
        with tempfile.TemporaryDirectory() as tmp:
            try:
                need, uses_index = code_actions(pkg, tmp)
            except RuntimeError as exc:
                fail("%s: %s" % (full, exc))
                continue
        check_actions(full, props, need, uses_index)
        if len(failures) == before:
            print("ok   %s: build-%s builds %s; env %s; secrets %s; actions %s%s"
                  % (full, logical_id, pkg, ", ".join(sorted(reads)) or "(none)", ", ".join(secret_vars) or "(none)",
                     ", ".join(sorted(need)) or "(none)", " (+ indexes)" if uses_index else ""))
    check_task_roles(stacks)
    check_local_api()
    for n in notes:
        print("note %s" % n)
    for f in failures:
        print("FAIL %s" % f)
    print("check_template: %d functions, %d failures" % (len(fns), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
