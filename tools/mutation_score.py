"""Print the mutation score from `mutmut export-cicd-stats` (mutants/mutmut-cicd-stats.json): `make mutants`."""

import json
import sys
from pathlib import Path


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


if __name__ == "__main__":
    main(*sys.argv[1:])
