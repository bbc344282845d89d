"""The front door: README.md's relative links (into docs/, the picture) must resolve.

``mkdocs build --strict`` (CI) checks the links inside docs/; README.md is outside the site,
so its links are checked here: every relative target exists and every ``page.md#anchor``
names a heading of that page (GitHub's slug rule, which matches MkDocs' for our headings).
"""
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINK = re.compile(r'\]\(([^)\s]+)\)')


def slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r'[^\w\- ]', '', heading.strip().lower())
    return text.replace(' ', '-')


def anchors(page: Path) -> set:
    found, fence = set(), False
    for line in page.read_text(encoding='utf-8').splitlines():
        if line.lstrip().startswith('```'):
            fence = not fence
        elif not fence and line.startswith('#'):
            found.add(slug(line.lstrip('#')))
    return found


def broken_links(text: str) -> list:
    """The relative link targets of markdown ``text`` (paths from the repository root) that
    name a missing file or a missing heading."""
    broken = []
    for target in LINK.findall(text):
        if re.match(r'[a-z]+:', target):  # https:, mailto:
            continue
        path, _, anchor = target.partition('#')
        if not (REPO / path).exists() or (anchor and anchor not in anchors(REPO / path)):
            broken.append(target)
    return broken


def test_slug_follows_the_heading_rule():
    assert slug(' The `videomae-det` command') == 'the-videomae-det-command'
    assert slug(' Real AVA v2.2, step by step') == 'real-ava-v22-step-by-step'


def test_readme_links_resolve():
    text = (REPO / 'README.md').read_text(encoding='utf-8')
    assert 'docs/install.md' in text
    assert broken_links(text) == []


def test_a_broken_link_is_caught():
    text = ('[a](docs/install.md#tests) [b](docs/nowhere.md) [c](docs/install.md#nowhere) '
            '[d](https://example.org/x.md)')
    assert broken_links(text) == ['docs/nowhere.md', 'docs/install.md#nowhere']


def test_install_page_names_every_subcommand():
    from tests.test_command import SUBCOMMANDS
    text = (REPO / 'docs' / 'install.md').read_text(encoding='utf-8')
    missing = [name for name in SUBCOMMANDS
               if not re.search(rf'`{name}[` ]|videomae-det {name} ', text)]
    assert missing == []
