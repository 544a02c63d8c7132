"""The example deployment files shipped in the wheel: `kapacitor.conf`, the TICKscripts and the systemd unit.

The repository's root `kapacitor.conf` and `tickscripts/` point here, so the files exist once.
`influxhtm examples --out DIR` writes them out for a user who installed the wheel.
"""

from __future__ import annotations

import shutil
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parent
KAPACITOR_CONF = EXAMPLES_DIR / "kapacitor.conf"
TICKSCRIPTS_DIR = EXAMPLES_DIR / "tickscripts"
SYSTEMD_DIR = EXAMPLES_DIR / "systemd"


def example_files() -> list[Path]:
    """Every example file, relative to the examples directory, sorted."""
    paths = [KAPACITOR_CONF, *TICKSCRIPTS_DIR.iterdir(), *SYSTEMD_DIR.iterdir()]
    return sorted(p.relative_to(EXAMPLES_DIR) for p in paths if p.is_file())


def tickscript(name: str) -> str:
    """The text of one shipped TICKscript, e.g. tickscript("htm_stream.tick")."""
    return (TICKSCRIPTS_DIR / name).read_text()


def write_examples(out_dir: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Copy the example files into out_dir (kapacitor.conf, tickscripts/..., systemd/...); returns the paths
    written.

    Raises FileExistsError naming the first file that exists already unless overwrite is true.
    """
    out = Path(out_dir)
    targets = [(EXAMPLES_DIR / rel, out / rel) for rel in example_files()]
    if not overwrite:
        for _, target in targets:
            if target.exists():
                raise FileExistsError(f"{target} exists (use --force to overwrite)")
    for source, target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return [target for _, target in targets]
