"""pyproject.toml tells the truth: the Python it accepts is the one its pinned dependencies accept,
the installed dependencies are within the pins, and the licence it names ships as a file."""
from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
DEPENDENCIES = [Requirement(line) for line in PROJECT["dependencies"]]
# Python minor releases old and new enough to bracket any bound a dependency could set.
PYTHON_MINORS = [f"3.{minor}" for minor in range(6, 20)]


def test_installed_dependencies_are_within_the_pins():
    """Else the Requires-Python read below would be another release's."""
    outside = [f"{requirement.name} {metadata.version(requirement.name)} (pinned "
               f"{requirement.specifier})" for requirement in DEPENDENCIES
               if not requirement.specifier.contains(metadata.version(requirement.name),
                                                     prereleases=True)]
    assert not outside, f"installed outside pyproject.toml's pins: {outside}"


def test_requires_python_is_what_the_pinned_dependencies_require():
    ours = SpecifierSet(PROJECT["requires-python"])
    theirs = {requirement.name: SpecifierSet(metadata.metadata(requirement.name)
                                             .get("Requires-Python") or "")
              for requirement in DEPENDENCIES}
    disagree = [f"Python {python}: ours {'accepts' if python in ours else 'refuses'}, "
                + ", ".join(f"{name} {spec}" for name, spec in theirs.items() if spec)
                for python in PYTHON_MINORS
                if (python in ours) != all(python in spec for spec in theirs.values())]
    assert not disagree, (f"requires-python = {PROJECT['requires-python']!r} disagrees with the "
                          f"installed dependencies: {disagree}")


def test_the_apache_license_ships():
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    # The full text, from its title to the appendix that tells how to apply it.
    for words in ("Apache License", "Version 2.0, January 2004",
                  "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
                  "9. Accepting Warranty or Additional Liability.", "END OF TERMS AND CONDITIONS",
                  "APPENDIX: How to apply the Apache License to your work."):
        assert words in text, f"LICENSE lacks {words!r}: not the full Apache-2.0 text"
