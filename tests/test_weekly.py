"""The weekly run on a hand-built 20-person org: who is nudged, by whom, and what the email says."""

from __future__ import annotations

import email
import re
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipelines.ingest.load import ingest_folder
from pipelines.ingest.options import IngestOptions
from pipelines.settings import Settings
from pipelines.weekly.run import run_week
from pipelines.weeks import IsoWeek
from tests.conftest import TODAY, WEEK, tiny_org, write_drop


def settings_for(tmp_path: Path, **sections: dict[str, object]) -> Settings:
    sections.setdefault("report", {"dir": tmp_path / "reports"})
    return Settings(delivery={"outbox_dir": tmp_path / "outbox"}, store={"path": tmp_path / "r.duckdb"}, **sections)


def read_eml(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[return-value]


class _Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.chunks.append(data)


def visible_text(html: str) -> str:
    """What a reader sees: text nodes only, no CSS."""
    parser = _Visible()
    parser.feed(html)
    return " ".join(parser.chunks)


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


@pytest.fixture
def ingested(conn, drop):
    ingest_folder(conn, drop, IngestOptions(today=TODAY))
    return conn


def run(conn, tmp_path: Path, week: str = WEEK, **sections: dict[str, object]):
    return run_week(conn, settings_for(tmp_path, **sections), IsoWeek.parse(week))


def test_a_neglected_star_is_nudged_in_their_managers_digest(ingested, tmp_path):
    report = run(ingested, tmp_path)
    text, _ = parts(read_eml(tmp_path / "outbox" / WEEK / "E02.eml"))
    assert "Person E05" in text
    assert report.nudges >= 1


def test_healthy_stars_and_non_stars_are_not_nudged(ingested, tmp_path):
    run(ingested, tmp_path)
    everything = "".join(p.read_text() for p in (tmp_path / "outbox" / WEEK).glob("*.html"))
    assert "Person E06" not in everything  # a star whose signals are healthy
    assert "Person E07" not in everything  # neglected but not a star


def test_a_departed_managers_report_routes_to_the_skip_level_marked_as_such(ingested, tmp_path):
    run(ingested, tmp_path)
    assert not (tmp_path / "outbox" / WEEK / "E04.eml").exists()
    text, _ = parts(read_eml(tmp_path / "outbox" / WEEK / "E01.eml"))
    assert "Person E16" in text and "skip-level" in text


def test_a_manager_sees_only_their_own_reports(ingested, tmp_path):
    run(ingested, tmp_path)
    reports_of = {"E02": {f"E{n:02d}" for n in range(5, 10)}, "E03": {f"E{n:02d}" for n in range(10, 16)}}
    for manager, reports in reports_of.items():
        text, _ = parts(read_eml(tmp_path / "outbox" / WEEK / f"{manager}.eml"))
        named = set(re.findall(r"Person (E\d\d)", text))
        assert named and named <= reports


def test_the_per_manager_cap_holds(ingested, tmp_path):
    run(ingested, tmp_path, nudges={"per_manager": 1})
    for path in (tmp_path / "outbox" / WEEK).glob("*.eml"):
        text, _ = parts(read_eml(path))
        assert len(re.findall(r"^\d\. ", text, flags=re.M)) == 1


def test_each_digest_is_multipart_alternative_with_the_same_nudges_in_text_and_html(ingested, tmp_path):
    run(ingested, tmp_path)
    emls = sorted((tmp_path / "outbox" / WEEK).glob("*.eml"))
    assert emls
    for path in emls:
        message = read_eml(path)
        assert message.get_content_type() == "multipart/alternative"
        assert message["Message-ID"] and message["Date"] and message["List-Unsubscribe"]
        assert message["Reply-To"] == "people@example.com"
        text, html = parts(message)
        assert set(re.findall(r"Person E\d\d", text)) == set(re.findall(r"Person E\d\d", html))
        assert html.count("Ask them") == text.count("Ask them:")
        assert path.with_suffix(".html").is_file()


def test_rerunning_a_week_adds_no_message_and_rewrites_nothing(ingested, tmp_path):
    first = run(ingested, tmp_path)
    before = {p.name: p.read_bytes() for p in (tmp_path / "outbox" / WEEK).iterdir()}
    second = run(ingested, tmp_path)
    after = {p.name: p.read_bytes() for p in (tmp_path / "outbox" / WEEK).iterdir()}
    assert before == after
    assert second.digests_new == 0 and second.digests_existing == first.digests_new
    assert ingested.execute("select count(*) from outbox").fetchall() == [(first.digests_new,)]


def test_a_deleted_outbox_file_comes_back_byte_for_byte(ingested, tmp_path):
    run(ingested, tmp_path)
    path = tmp_path / "outbox" / WEEK / "E02.eml"
    original = path.read_bytes()
    path.unlink()
    run(ingested, tmp_path)
    assert path.read_bytes() == original


def test_files_written_a_page_at_a_time_are_every_digest_of_the_week(ingested, tmp_path, monkeypatch):
    monkeypatch.setattr("nudges.delivery.files.FILES_PAGE", 1)
    report = run(ingested, tmp_path)
    written = sorted(p.name for p in (tmp_path / "outbox" / WEEK).glob("*.eml"))
    managers = ingested.execute("select manager_id from outbox order by 1").fetchall()
    assert report.digests_new > 1 and written == [f"{m}.eml" for (m,) in managers]


def test_with_display_hidden_no_risk_or_score_appears(ingested, tmp_path):
    run(ingested, tmp_path)
    for path in (tmp_path / "outbox" / WEEK).glob("*.eml"):
        text, html = parts(read_eml(path))
        for body in (text, visible_text(html)):
            assert not re.search(r"\brisk\b|\bscore\b|flight|priority|0\.\d\d", body, flags=re.I)


def test_display_score_shows_the_score(ingested, tmp_path):
    run(ingested, tmp_path, nudges={"display": "score"})
    text, _ = parts(read_eml(tmp_path / "outbox" / WEEK / "E02.eml"))
    assert re.search(r"Priority score: 0\.\d\d", text)


def test_no_survey_answer_appears_in_a_digest(ingested, tmp_path):
    run(ingested, tmp_path)
    for path in (tmp_path / "outbox" / WEEK).glob("*.eml"):
        text, html = parts(read_eml(path))
        for body in (text, visible_text(html)):
            assert not re.search(r"\b[1-5]\s*(/|out of)\s*5\b|scored|rated|answered", body, flags=re.I)


def test_cooldown_keeps_the_same_nudge_from_repeating_next_week(ingested, tmp_path):
    run(ingested, tmp_path)
    first = set(ingested.execute("select employee_id, kind from nudges where week = ?", [WEEK]).fetchall())
    run(ingested, tmp_path, week=str(IsoWeek.parse(WEEK).shift(1)))
    second = set(ingested.execute("select employee_id, kind from nudges where week <> ?", [WEEK]).fetchall())
    assert first and not (first & second)


def test_managers_with_nothing_to_do_get_no_email_unless_all_clear(ingested, tmp_path):
    quiet = {"threshold": 1.0}
    report = run(ingested, tmp_path, rules=quiet)
    assert report.nudges == 0 and list((tmp_path / "outbox" / WEEK).glob("*.eml")) == []
    run(ingested, tmp_path / "clear", week="2026-W49", rules=quiet, nudges={"all_clear": True})
    notes = sorted(p.stem for p in (tmp_path / "clear" / "outbox" / "2026-W49").glob("*.eml"))
    assert notes == ["E01", "E02", "E03"]  # every active manager; E04 has left
    text, _ = parts(read_eml(tmp_path / "clear" / "outbox" / "2026-W49" / "E02.eml"))
    assert "nothing needs your attention" in text.lower() or "Nothing stands out" in text


def test_names_with_markup_and_line_breaks_are_escaped_and_kept_out_of_headers(conn, tmp_path):
    files = tiny_org()
    files["employees.csv"] = files["employees.csv"].replace(
        "Person E05", "<script>alert(1)</script> Eve"
    ).replace("Manager E02", '"Boss\r\nBcc: evil@example.com"')
    ingest_folder(conn, write_drop(tmp_path / "d", files), IngestOptions(today=TODAY))
    run(conn, tmp_path)
    path = tmp_path / "outbox" / WEEK / "E02.eml"
    message = read_eml(path)
    _, html = parts(message)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert message["Bcc"] is None
    assert "evil@example.com" not in str(message["To"]) or "\n" not in str(message["To"])
    assert [h for h in message.keys() if h.lower() == "bcc"] == []


def test_without_a_model_the_rules_score_is_used_and_the_run_says_why(ingested, tmp_path):
    report = run(ingested, tmp_path, model={"dir": tmp_path / "no-model"})
    assert report.score_method == "rules"
    assert "no model at" in report.score_note


def test_an_hris_flag_column_can_define_stars(conn, tmp_path):
    files = tiny_org()
    header, *rows = files["employees.csv"].strip().split("\n")
    files["employees.csv"] = "\n".join([header + ",hipo"] + [r + (",yes" if r.startswith("E07,") else ",no") for r in rows]) + "\n"
    ingest_folder(conn, write_drop(tmp_path / "d", files), IngestOptions(today=TODAY, extra_columns=("hipo",)))
    report = run(
        conn,
        tmp_path,
        ingest={"extra_columns": ["hipo"]},
        stars={"min_rating": None, "flag_column": "hipo"},
    )
    assert report.stars == 1  # only E07, who is not a star by rating
    text, _ = parts(read_eml(tmp_path / "outbox" / WEEK / "E02.eml"))
    assert "Person E07" in text and "Person E05" not in text


def test_every_decision_of_the_week_is_stored_for_audit_once(ingested, tmp_path):
    run(ingested, tmp_path)
    run(ingested, tmp_path)
    rows = ingested.execute("select employee_id, outcome, reason, recipient_id from decisions where week = ?", [WEEK])
    decisions = {e: (o, r, m) for e, o, r, m in rows.fetchall()}
    assert decisions["E05"] == ("included", "top priority for this manager", "E02")
    assert decisions["E06"][0] == "skipped"  # a well-supported star: considered, not nudged
    total = ingested.execute("select count(*), count(distinct employee_id) from decisions").fetchall()
    assert total[0][0] == total[0][1]


def test_the_week_records_managers_and_aggregates_without_names_or_scores(ingested, tmp_path):
    run(ingested, tmp_path)
    stats = ingested.execute("select method, people, stars, mean_risk from week_stats where week = ?", [WEEK])
    method, people, stars, mean_risk = stats.fetchall()[0]
    assert method == "rules" and people > stars > 0 and 0 <= mean_risk <= 1
    assert ingested.execute("select manager_id from manager_history where employee_id = 'E05'").fetchall() == [("E02",)]


def test_a_star_whose_manager_changed_since_last_week_waits_a_week(conn, tmp_path):
    ingest_folder(conn, write_drop(tmp_path / "d", tiny_org()), IngestOptions(today=TODAY))
    run(conn, tmp_path, week="2026-W47")
    files = tiny_org()
    files["employees.csv"] = files["employees.csv"].replace("e05@example.com,E02,", "e05@example.com,E03,")
    ingest_folder(conn, write_drop(tmp_path / "d", files), IngestOptions(today=TODAY))
    run(conn, tmp_path)
    reason = conn.execute("select reason from decisions where week = ? and employee_id = 'E05'", [WEEK]).fetchall()
    assert reason == [("their manager changed this week",)]
    assert conn.execute("select count(*) from nudges where week = ? and employee_id = 'E05'", [WEEK]).fetchall() == [(0,)]


def test_no_free_text_from_recognition_messages_reaches_a_digest_or_the_store(ingested, tmp_path):
    run(ingested, tmp_path)
    message = "Thanks for the help, really"  # every recognition message in the tiny org
    for path in (tmp_path / "outbox" / WEEK).iterdir():
        assert message not in path.read_text(encoding="utf-8", errors="replace")
    columns = ingested.execute("select column_name from information_schema.columns where table_name = 'recognition'")
    assert "message" not in {c for (c,) in columns.fetchall()}
