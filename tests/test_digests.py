"""The code hash of a rule follows what its script really imports."""

import ast
import json
import re
import subprocess
import sys

import pytest
from conftest import REPO

from amygdala_readout.digests import code_digest, module_closure

SCRIPTS = sorted((REPO / "scripts").glob("*.py"))


PROBE = """
import json, sys
loaded = {}
for name, imports in json.loads(sys.argv[1]).items():
    for module in [m for m in sys.modules if m.startswith("amygdala_readout")]:
        del sys.modules[module]  # each script's imports run afresh; torch and the rest stay loaded
    exec(imports)
    loaded[name] = sorted(m.split(".", 1)[1] if "." in m else "__init__"
                          for m in sys.modules if m.startswith("amygdala_readout"))
print(json.dumps(loaded))
"""


@pytest.fixture(scope="module")
def imported_at_run_time() -> dict[str, set[str]]:
    """{script: library modules loaded by running the script's own import statements}."""
    imports = {}
    for script in SCRIPTS:
        tree = ast.parse(script.read_text())
        imports[script.stem] = ast.unparse([n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))])
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(imports)], capture_output=True, text=True, check=True
    ).stdout
    return {name: set(modules) for name, modules in json.loads(out.splitlines()[-1]).items()}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_every_module_a_script_loads_is_in_its_hash(script, imported_at_run_time):
    closure = set(module_closure(script))
    assert imported_at_run_time[script.stem] and imported_at_run_time[script.stem] <= closure
    # lazily imported modules (inside functions) are hashed too, though importing does not load them
    assert "__init__" in closure


def test_evaluation_hashes_the_modules_it_reaches_through_others():
    closure = module_closure(REPO / "scripts" / "evaluate_readout.py")
    assert {"evaluate", "package", "store"} <= set(closure)


def write_library(root, modules):
    root.mkdir(parents=True, exist_ok=True)
    for name, body in modules.items():
        (root / f"{name}.py").write_text(body)
    return root


def test_an_edit_anywhere_in_the_closure_changes_the_hash_and_elsewhere_does_not(tmp_path):
    library = write_library(
        tmp_path / "amygdala_readout",
        {
            "__init__": "",
            "a": "from .b import thing\n",
            "b": "def thing():\n    from . import c\n    return c.VALUE\n",
            "c": "VALUE = 1\n",
            "d": "UNUSED = 1\n",
        },
    )
    script = tmp_path / "job.py"
    script.write_text("from amygdala_readout.a import thing\n")
    assert module_closure(script, library) == ["__init__", "a", "b", "c"]
    before = code_digest(script, library)
    (library / "d.py").write_text("UNUSED = 2\n")
    assert code_digest(script, library) == before
    (library / "c.py").write_text("VALUE = 2\n")
    assert code_digest(script, library) != before
    changed = code_digest(script, library)
    script.write_text("from amygdala_readout.a import thing  # same import\n")
    assert code_digest(script, library) != changed


# --- The rerun-digest chain follows the rule graph -------------------------------------------------
# Reruns are decided by each job's params digest alone (profiles/default), so a rule whose digest
# misses one of the rules it reads from keeps a stale result after a run that stopped half-way. For
# every rule, the test changes what that rule computes (its script, in a copy of the workflow), lets
# only that rule catch up (`--touch --until`: its outputs are recorded as made by the new code, as
# after a run stopped right after it), and asks Snakemake what is left to do: exactly every rule
# downstream of it in the rule graph.

RULE_FILES = ("Snakefile", "rules", "scripts", "schemas", "report", "profiles", "envs")


def rules_downstream(readers: dict[str, set[str]], rule: str) -> set[str]:
    found, todo = set(), [rule]
    while todo:
        for reader in readers.get(todo.pop(), ()):
            if reader not in found:
                found.add(reader)
                todo.append(reader)
    return found


@pytest.fixture(scope="module")
def rule_graph(finished_run) -> dict[str, set[str]]:
    """{rule: the rules that read its output} of the run of every method."""
    from conftest import run_snakemake

    dot = run_snakemake(finished_run, "--rulegraph").stdout
    names = dict(re.findall(r'^\s*(\d+)\[label = "(\w+)"', dot, re.M))
    readers: dict[str, set[str]] = {name: set() for name in names.values()}
    for producer, reader in re.findall(r"^\s*(\d+) -> (\d+)", dot, re.M):
        readers[names[producer]].add(names[reader])
    return readers


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_a_changed_rule_changes_the_digest_of_every_rule_after_it(script, finished_run, rule_graph, tmp_path):
    import shutil

    from conftest import copy_run, scheduled

    rule = script.stem
    assert rule in rule_graph, f"{rule}: a script no rule of the run of every method uses"
    workflow = tmp_path / "workflow"
    workflow.mkdir()
    for name in RULE_FILES:  # file times kept: Snakemake reruns a rule whose script is newer than its output
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy2
        copy(REPO / name, workflow / name)
    with (workflow / "scripts" / script.name).open("a") as handle:
        handle.write("\n# a change to what this rule computes\n")
    run = copy_run(finished_run, tmp_path / "run")
    cmd = [sys.executable, "-m", "snakemake", "-s", workflow / "Snakefile", "-d", run, "--cores", "1"]
    subprocess.run([*cmd, "--touch", "--until", rule], capture_output=True, text=True, check=True)
    left = scheduled(subprocess.run([*cmd, "--dry-run"], capture_output=True, text=True, check=True).stdout)
    # `all` makes nothing: it is planned only beside a rule that is
    assert set(left) - {"all"} == rules_downstream(rule_graph, rule) - {"all"}
