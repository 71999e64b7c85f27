"""The class roster: generated rosters as spreadsheets write them read back exactly; bad ones get
one-line errors naming file and line; matching submissions to students lists every unknown
submission and every student with no submission (grader/batch/roster.py)."""

from __future__ import annotations

import csv
import io
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.batch.roster import (
    Candidate,
    RosterError,
    Student,
    describe,
    match,
    parse_roster,
    read_roster,
)
from tests.strategies import generated

# Text a roster cell may hold: letters with accents, digits, spaces, commas, quotes, ";".
CELL_TEXT = st.text(alphabet=st.sampled_from(list(string.ascii_letters + string.digits
                                                   + " ,;'\"-_.éüñøÅçß")),
                    min_size=1, max_size=12).map(str.strip).filter(
    lambda t: t and not t.startswith("=") and not t.lower().startswith("sep="))
IDS = st.text(alphabet=st.sampled_from(list(string.ascii_letters + string.digits + "-_")),
              min_size=1, max_size=8).filter(lambda t: not any(c in t for c in "eE")
                                             or not t[0].isdigit())
HEADERS = {
    "id": ["id", "Student ID", "student_id", "SIS User ID", "ID number"],
    "name": ["name", "Name", "Full name", "Student"],
    "email": ["email", "Email address", "E-mail"],
    "submission": ["submission", "Submission", "file", "LMS id", "user id"],
}


@st.composite
def rosters(draw):
    """(students, the CSV text a spreadsheet could have written for them)."""
    ids = draw(st.lists(IDS, min_size=1, max_size=8, unique=True))
    patterns = draw(st.lists(IDS, min_size=len(ids), max_size=len(ids),
                             unique_by=str.casefold))
    students = []
    for i, (student_id, pattern) in enumerate(zip(ids, patterns, strict=True)):
        students.append(Student(id=student_id, name=draw(CELL_TEXT),
                                email=draw(st.sampled_from(["", f"s{i}@example.org"])),
                                submission=f"sub-{pattern}"))
    order = draw(st.permutations(["id", "name", "email", "submission"]))
    titles = [draw(st.sampled_from(HEADERS[role])) for role in order]
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=draw(st.sampled_from(
        ["\n", "\r\n"])))
    if draw(st.booleans()):  # Excel's "sep=" line
        out.write(f"sep={delimiter}\n")
    writer.writerow(titles + ([""] if draw(st.booleans()) else []))  # a blank column
    for student in students:
        values = {"id": student.id, "name": student.name, "email": student.email,
                  "submission": student.submission}
        cells = [values[role] for role in order]
        if draw(st.booleans()):
            cells = [f" {c} " for c in cells]  # spaces around cells
        writer.writerow(cells)
        if draw(st.integers(0, 4)) == 0:
            writer.writerow([""] * len(order))  # a blank row
    return students, out.getvalue()


def _same(read: list[Student], expected: list[Student]) -> None:
    assert [(s.id, s.name, s.email, s.submission) for s in read] == [
        (s.id, s.name, s.email, s.submission) for s in expected]


@generated(60)
@given(rosters(), st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
def test_generated_rosters_read_back_exactly(tmp_path_factory, roster, encoding):
    students, text = roster
    path = tmp_path_factory.mktemp("roster") / "roster.csv"
    path.write_bytes(text.encode(encoding))
    _same(read_roster(path), students)


def test_excel_quirks_are_read_as_meant():
    text = '\ufeffStudent ID,Name,Email,Submission,Notes\n="00123",Ana,a@x.org,ana.zip,ok\n,,,,\n'
    [student] = parse_roster(text)
    assert (student.id, student.name, student.submission, student.line) == (
        "00123", "Ana", "ana.zip", 2)
    assert student.pattern == "ana.zip"
    [plain] = parse_roster("id,name,email,submission\nS1,Bo,,\n")
    assert plain.pattern == "S1"  # an empty submission cell: the id finds it


BAD = [
    ("id,name,email\nS1,Ana,a@x\n",
     "roster.csv line 1: missing column(s) submission (the header has 'id', 'name', 'email'; "
     "separator ',')"),
    ("name;email;submission\nAna;a@x;ana\n",
     "roster.csv line 1: missing column(s) id (the header has 'name', 'email', 'submission'; "
     "separator ';')"),
    ("id,name,email,submission\nS1,Ana,,ana\nS1,Bo,,bo\n",
     "roster.csv line 3: duplicate student id 'S1' (first on line 2)"),
    ("id,name,email,submission\n,Ana,,ana\n", "roster.csv line 2: empty student id"),
    ("id,name,email,submission\n1.23457E+11,Ana,,ana\n",
     "roster.csv line 2: id '1.23457E+11' looks like a number a spreadsheet rounded (format "
     "the column as Text and export again)"),
    ("id,name,email,submission\nS1,Smith, Ana,a@x,ana\n",
     "roster.csv line 2: more cells than the header has columns (a ',' inside a cell must be "
     "quoted)"),
    ("id,Student ID,name,email,submission\n",
     "roster.csv line 1: two columns mean 'id' ('id' and 'Student ID')"),
    ("id,name,email,submission\nS1,Ana,,alice\nS2,Bo,,ALICE\n",
     "roster.csv line 3: submission 'ALICE' is also student 'S1''s (line 2)"),
    ("\n\n", "roster.csv: empty (no header row)"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_a_bad_roster_gets_a_one_line_error(tmp_path, text, message):
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RosterError) as caught:
        read_roster(path)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("data", "message"), [
    ("id,name,email,submission\nS1,J\xf6rg,,j\n".encode("cp1252"),
     'roster.csv line 2: not UTF-8 text (save it as "CSV UTF-8")'),
    (b"PK\x03\x04\x00\x00xl/workbook.xml",
     "roster.csv: not a CSV file (it holds NUL bytes; an .xlsx must be saved as CSV first)"),
])
def test_files_that_are_not_utf8_csv_get_a_one_line_error(tmp_path, data, message):
    path = tmp_path / "roster.csv"
    path.write_bytes(data)
    with pytest.raises(RosterError, match="^" + message.replace("(", r"\(").replace(")", r"\)")
                       .replace(".", r"\.") + "$"):
        read_roster(path)


def test_a_missing_roster_file_is_one_line(tmp_path):
    with pytest.raises(RosterError) as caught:
        read_roster(tmp_path / "absent.csv")
    assert str(caught.value) == "absent.csv: cannot be read (No such file or directory)"


# --- matching -------------------------------------------------------------------------------

NAMES = st.text(alphabet=st.sampled_from(list(string.ascii_lowercase + "éü_0123456789")),
                min_size=1, max_size=6)


@st.composite
def classes(draw):
    """(students, candidates, the expected matching): some students hand in (found by exact
    name, by file name, by LMS user id or by a glob), some do not, some submissions are nobody's."""
    identities = draw(st.lists(NAMES, min_size=0, max_size=8, unique=True))
    users = [str(1000 + i) for i in range(len(identities))]
    candidates = [Candidate(f"{i}_{u}", (f"{i}_{u}_77_activations.py",), u)
                  for i, u in zip(identities, users, strict=True)]
    students, expected = [], {}
    for number, candidate in enumerate(candidates):
        how = draw(st.sampled_from(["identity", "upper", "file", "user", "glob", "nobody"]))
        if how == "nobody":
            continue
        pattern = {"identity": candidate.identity, "upper": candidate.identity.upper(),
                   "file": candidate.names[0], "user": candidate.lms_user,
                   "glob": f"{candidate.identity}*"}[how]
        students.append(Student(id=f"S{number}", name=f"N{number}", submission=pattern,
                                line=number + 2))
        expected[f"S{number}"] = candidate.identity
    absent = draw(st.integers(0, 3))
    students += [Student(id=f"A{k}", name=f"Absent {k}", submission=f"absent-{k}",
                         line=100 + k) for k in range(absent)]
    order = draw(st.permutations(range(len(students))))
    return [students[i] for i in order], candidates, expected


@generated(80)
@given(classes())
def test_every_submission_is_someones_or_listed_and_every_student_is_listed(case):
    students, candidates, expected = case
    matching = match(students, candidates)
    assert matching.by_student == expected
    assert matching.unknown == sorted(c.identity for c in candidates
                                      if c.identity not in expected.values())
    assert [s.id for s in matching.no_submission] == [s.id for s in students
                                                       if s.id not in expected]
    lines = describe(matching, len(students))
    assert lines[0] == (f"roster: {len(students)} student(s), {len(expected)} with a "
                        f"submission, {len(students) - len(expected)} with no submission; "
                        f"{len(matching.unknown)} submission(s) not on the roster")
    assert len(lines) == 1 + len(matching.no_submission) + len(matching.unknown)


def test_an_exact_name_wins_over_a_glob_and_an_ambiguous_row_is_refused():
    candidates = [Candidate("alice"), Candidate("alice2"), Candidate("bob")]
    matching = match([Student("S1", "A", submission="alice*"),
                      Student("S2", "A2", submission="alice2")], candidates)
    assert matching.by_student == {"S2": "alice2", "S1": "alice"}
    assert matching.unknown == ["bob"]
    with pytest.raises(RosterError) as caught:
        match([Student("S1", "A", submission="*", line=2)], candidates)
    assert str(caught.value) == ("roster line 2: submission '*' matches 3 submissions "
                                 "(alice, alice2, bob); make it match one")


def test_a_submission_two_rows_claim_is_refused():
    with pytest.raises(RosterError) as caught:
        match([Student("S1", "A", submission="al*", line=2),
               Student("S2", "B", submission="*ce", line=3)], [Candidate("alice")])
    assert str(caught.value) == ("submission 'alice' is claimed by students S1, S2; give each "
                                 "row its own submission")


def test_roster_docstring_lists_the_required_columns():
    import grader.batch.roster as module

    for column in ("``id``", "``name``", "``email``", "``submission``"):
        assert column in module.__doc__
    assert Path(module.__file__).name == "roster.py"
