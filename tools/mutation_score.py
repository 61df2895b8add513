"""Print the mutation score from `mutmut export-cicd-stats` (mutants/mutmut-cicd-stats.json) and a per-module table
from mutmut's results (mutants/**/*.py.meta): `make mutants`."""

import json
import sys
from collections import Counter
from pathlib import Path

# mutmut's exit codes (mutmut/stats.py): what a mutant's run ended as.
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", 36: "timeout"}
STATUS.update({-24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout", None: "not run"})
COLUMNS = ("killed", "timeout", "survived", "no tests", "not run")


def module_table(root: Path = Path("mutants")) -> list[str]:
    rows = ["| module | " + " | ".join(COLUMNS) + " | score |", "|---" * (len(COLUMNS) + 2) + "|"]
    for meta in sorted(root.glob("core/cache/*.py.meta")):
        counts = Counter(
            STATUS.get(code, "suspicious") for code in json.loads(meta.read_text())["exit_code_by_key"].values()
        )
        tested = counts["killed"] + counts["timeout"] + counts["survived"] + counts["suspicious"]
        score = f"{100 * (counts['killed'] + counts['timeout']) / tested:.1f}%" if tested else "-"
        name = meta.name.removesuffix(".meta")
        rows.append(f"| `{name}` | " + " | ".join(str(counts[column]) for column in COLUMNS) + f" | {score} |")
    return rows


def main(path: str = "mutants/mutmut-cicd-stats.json") -> None:
    stats = json.loads(Path(path).read_text())
    caught = stats["killed"] + stats["timeout"]
    tested = caught + stats["survived"] + stats["suspicious"]
    untested = stats["total"] - tested - stats["no_tests"] - stats["skipped"]
    score = 100 * caught / tested if tested else 0.0
    print(
        f"mutation score: {score:.1f}% ({caught} of {tested} mutants caught: {stats['killed']} killed, "
        f"{stats['timeout']} timed out; {stats['survived']} survived, {stats['suspicious']} suspicious)"
    )
    print(f"not run: {stats['no_tests']} reached by no selected test, {untested} not selected or not reached yet")
    print("\n".join(module_table(Path(path).parent)))


if __name__ == "__main__":
    main(*sys.argv[1:])
