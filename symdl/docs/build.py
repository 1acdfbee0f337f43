"""``symdl docs generate [--check]`` and ``symdl docs build``.

The build: catalog pages (only the stale ones are rendered again), plots,
MathJax from the npm registry copied into the site (no CDN at view time),
then ``mkdocs build --strict`` into ``site/``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from symdl.errors import SymdlError

#: the MathJax release the site serves (npm package ``mathjax``), and the
#: single-file bundle copied into it: TeX input with every extension, SVG
#: output (fonts inside the bundle: nothing else is fetched at view time)
MATHJAX_VERSION = "3.2.2"
MATHJAX_BUNDLE = "es5/tex-svg-full.js"
MATHJAX_TARGET = "assets/mathjax/tex-svg-full.js"


def install_mathjax(docs: Path, cache: Path, log=print) -> Path:
    """Copy MathJax's bundle into ``docs/assets/mathjax``; ``npm install``s
    the pinned release into ``cache`` the first time."""
    target = docs / MATHJAX_TARGET
    pkg = cache / "node_modules" / "mathjax"
    src = pkg / MATHJAX_BUNDLE
    if not src.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise FileNotFoundError("npm is needed once to install MathJax into the site "
                                    "(Debian: apt-get install npm)")
        cache.mkdir(parents=True, exist_ok=True)
        log(f"docs: npm install mathjax@{MATHJAX_VERSION}")
        r = subprocess.run([npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund",
                            "--no-save", "--loglevel=error", f"mathjax@{MATHJAX_VERSION}"],
                           capture_output=True, text=True)
        if r.returncode != 0 or not src.exists():
            raise SymdlError(f"npm install mathjax@{MATHJAX_VERSION} failed: {r.stderr.strip()[-600:]}")
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_bytes() != src.read_bytes():
        shutil.copyfile(src, target)
        license_src = pkg / "LICENSE"
        if license_src.exists():
            shutil.copyfile(license_src, target.parent / "LICENSE")
    return target


def mkdocs_build(root: Path, site: Path, log=print) -> None:
    try:
        import mkdocs  # noqa: F401
    except ImportError:
        raise FileNotFoundError("mkdocs is not installed: pip install -e '.[docs]'") from None
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f",
                        str(root / "mkdocs.yml"), "-d", str(site)], cwd=root,
                       capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    if r.returncode != 0:
        raise SymdlError("mkdocs build --strict failed:\n" + (r.stderr or r.stdout)[-4000:])
    log(f"docs: site built into {site}")


def check_images(docs: Path, site: Path) -> int:
    """Every image a page links exists in the built site (mkdocs --strict does
    not check image links); returns how many were checked."""
    import re

    missing, n = [], 0
    for md in docs.rglob("*.md"):
        for src in re.findall(r"\]\(([^)\s]+\.(?:svg|png|jpg))\)", md.read_text(encoding="utf-8")):
            if "://" in src:
                continue
            n += 1
            target = (site / md.parent.relative_to(docs) / src).resolve()
            if not target.exists():
                missing.append(f"{md.relative_to(docs)}: {src}")
    if missing:
        raise SymdlError(f"{len(missing)} image(s) missing from the site: " + "; ".join(missing[:10]))
    return n


def build(root: Path | None = None, site: Path | None = None, measure: bool = True, log=print) -> Path:
    from . import pages, plots

    root = root or pages.repo_root()
    docs = root / "docs"
    site = site or root / "site"
    t0 = time.monotonic()
    pages.run(root=docs, measure=measure, log=log)
    t1 = time.monotonic()
    plots.draw_all(docs, log=log)
    t2 = time.monotonic()
    install_mathjax(docs, root / "build" / "mathjax", log=log)
    mkdocs_build(root, site, log=log)
    log(f"docs: {check_images(docs, site)} image links checked")
    t3 = time.monotonic()
    log(f"docs: pages {t1 - t0:.1f} s, plots {t2 - t1:.1f} s, MathJax + mkdocs {t3 - t2:.1f} s")
    return site


# ----------------------------------------------------------------------------- command line
def _cmd_generate(args) -> int:
    from . import pages

    return pages.run(check=args.check, full=args.full, names=args.names or None,
                     measure=not args.no_measure)


def _cmd_build(args) -> int:
    build(site=Path(args.site_dir) if args.site_dir else None, measure=not args.no_measure)
    return 0


def register(sub) -> None:
    p = sub.add_parser("docs", help="the documentation site: catalog pages, plots, mkdocs build",
                       description="Generate the catalog pages from the specs and build the site "
                                   "(needs the docs extra: pip install -e '.[docs]').")
    dsub = p.add_subparsers(dest="docs_command", required=True)
    q = dsub.add_parser("generate", help="write the catalog pages under docs/catalog (stale ones only)")
    q.add_argument("names", nargs="*", metavar="NAME", help="only these specs")
    q.add_argument("--check", action="store_true", help="exit 1 with a diff when a page is stale")
    q.add_argument("--full", action="store_true", help="render every page again (not only those "
                   "whose hashes changed)")
    q.add_argument("--no-measure", action="store_true", help="do not measure kernel accuracy "
                   "(pages of unmeasured specs say they are stale)")
    q.set_defaults(func=_cmd_generate)
    q = dsub.add_parser("build", help="pages, plots, MathJax and mkdocs build --strict into site/")
    q.add_argument("--site-dir", help="output directory (default: site/)")
    q.add_argument("--no-measure", action="store_true", help="do not measure kernel accuracy")
    q.set_defaults(func=_cmd_build)
