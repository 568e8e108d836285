"""Exit codes of the installed `paperqa` command, seen from a real subprocess.

Typer's test runner sees the code a command raises; the console script used to drop it (its
`main()` ran Typer with `standalone_mode=False` and ignored the return value), so every
failure exited 0. These tests run the command the way a shell or `make` does.

    0 ok | 1 partial failure | 2 usage or input error | 130 interrupted
"""

from __future__ import annotations

import errno
import fcntl
import importlib
import inspect
import os
import pkgutil
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import paperqa
from fake_arxiv import FakeArxiv, FakePaper, write_pdf
from paperqa import Library
from paperqa.errors import PaperqaError
from paperqa.evaluate import questions as pq_eval
from paperqa.settings import Settings, checkout_root

QLORA = "QLoRA: Efficient Finetuning of Quantized LLMs"
SCRIPT = Path(sys.executable).with_name("paperqa")  # the console script next to this interpreter
QUESTION = '{"id": "a", "q": "How does QLoRA save memory?", "lang": "en", "expect": ["2305.14314"]}\n'


def command() -> list[str]:
    """The installed console script; `python -m paperqa.app.cli` only where none is installed."""
    return [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "paperqa.app.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the caller's PAPERQA_* settings; offline for Hugging Face."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERQA_")}
    return env | {"HF_HUB_OFFLINE": "1", "PAPERQA_EMBEDDER": "hash"} | extra


def paperqa_cmd(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command(), *args, "--home", str(home)],
        capture_output=True,
        text=True,
        env=clean_env(**env),
        timeout=120,
    )


def _sigint_default() -> None:
    """A child of a background job inherits SIGINT ignored; Python then never raises Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_when(
    home: Path, args: list[str], ready: Callable[[], bool], **env: str
) -> tuple[int, str, str]:
    """Start the command, wait until `ready()` says it is busy, press Ctrl-C; returns (code, out, err)."""
    proc = subprocess.Popen(
        [*command(), *args, "--home", str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(**env),
        preexec_fn=_sigint_default,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready():
            assert proc.poll() is None, f"exited {proc.returncode} before it was busy: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "the command never got busy"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty data root of the test's own: the shipped lists, no PDFs, no index."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def own_lists(home: Path) -> Path:
    """A data root with its own copy of the lists and papers.toml, to break freely."""
    root = checkout_root() or Path(paperqa.__file__).parent / "data"
    src = root / "corpus" if (root / "corpus").is_dir() else root
    (home / "corpus").mkdir()
    shutil.copytree(src / "lists", home / "corpus" / "lists")
    shutil.copy(src / "papers.toml", home / "corpus" / "papers.toml")
    return home


def no_traceback(proc: subprocess.CompletedProcess[str]) -> bool:
    return "Traceback" not in proc.stderr + proc.stdout


# --- catalog check ----------------------------------------------------------------


def test_catalog_check_exits_0_when_sound(own_lists: Path):
    proc = paperqa_cmd(own_lists, "catalog", "check")
    assert proc.returncode == 0, proc.stderr
    assert "catalog OK" in proc.stdout


def test_catalog_check_with_a_problem_exits_1(own_lists: Path):
    toml = own_lists / "corpus" / "papers.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8")
        + '\n[[paper]]\nid = "Not A Slug"\ntitle = "No source"\nyear = 2020\n',
        encoding="utf-8",
    )
    proc = paperqa_cmd(own_lists, "catalog", "check")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "neither an arXiv id nor a pdf_url" in proc.stderr and no_traceback(proc)


def test_catalog_check_on_an_unreadable_list_exits_2(own_lists: Path):
    (own_lists / "corpus" / "lists" / "broken.md").write_bytes(b"## A\n\xff\xfe not utf-8\n")
    proc = paperqa_cmd(own_lists, "catalog", "check")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "broken.md:2: not UTF-8" in proc.stderr and no_traceback(proc)


# --- add --------------------------------------------------------------------------


@pytest.mark.slow  # real `paperqa` processes: the fast set keeps one per exit code
def test_add_with_some_files_failed_exits_1(home: Path, tmp_path: Path):
    good = write_pdf(tmp_path / "zebra.pdf", "Zebra Quantizers for Striped Language Models")
    proc = paperqa_cmd(home, "add", str(good), str(tmp_path / "missing.pdf"), "--json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert '"added"' in proc.stdout and '"failed"' in proc.stdout


@pytest.mark.slow  # real `paperqa` processes: the fast set keeps one per exit code
def test_add_with_every_file_failed_exits_2(home: Path, tmp_path: Path):
    proc = paperqa_cmd(home, "add", str(tmp_path / "missing.pdf"), str(tmp_path / "gone.pdf"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no such file" in proc.stdout and no_traceback(proc)


# --- download ---------------------------------------------------------------------


def arxiv_env(arx: FakeArxiv) -> dict[str, str]:
    return {
        "PAPERQA_ARXIV_API_URL": arx.api_url,
        "PAPERQA_ARXIV_PDF_URL": arx.pdf_url,
        "PAPERQA_REQUEST_INTERVAL": "0",
        "PAPERQA_MAX_TRIES": "1",
    }


@pytest.mark.slow  # real `paperqa` processes: the fast set keeps one per exit code
@pytest.mark.parametrize(
    "served",
    [pytest.param([], id="all-failed"), pytest.param([FakePaper("2305.14314", QLORA)], id="some-failed")],
)
def test_download_with_failed_papers_exits_1(home: Path, served: list[FakePaper]):
    with FakeArxiv(served) as arx:  # serves QLoRA at most; Attention is unknown to it
        proc = paperqa_cmd(
            home, "download", "--only", "2305.14314", "--only", "1706.03762", "--json", **arxiv_env(arx)
        )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert '"failed": 2' in proc.stdout if not served else '"failed": 1' in proc.stdout


# --- Ctrl-C -----------------------------------------------------------------------


@pytest.mark.slow  # real `paperqa` processes: the fast set keeps one per exit code
def test_ctrl_c_during_download_exits_130(home: Path):
    with FakeArxiv([FakePaper("2305.14314", QLORA)]) as arx:
        arx.misbehave("/api/query", ("slow", 30))  # the metadata request hangs
        code, _, err = interrupt_when(
            home,
            ["download", "--only", "2305.14314"],
            lambda: bool(arx.hits("/api/query")),
            **arxiv_env(arx),
        )
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err


@pytest.mark.slow  # real `paperqa` processes: the fast set keeps one per exit code
def test_ctrl_c_while_reading_the_question_file_exits_130(home: Path, tmp_path: Path):
    fifo = tmp_path / "questions.jsonl"
    os.mkfifo(fifo)
    writer: list[int] = []

    def reader_waiting() -> bool:
        """The FIFO opens for writing only once the command has opened it for reading; the command
        is blocked in read() once it has taken the line written (none left in the pipe).

        A Ctrl-C that lands between open() and the first read() is only seen by CPython at the next
        interrupted system call, which a read that then succeeds never makes: so wait for the read.
        """
        if not writer:
            try:
                writer.append(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
                return False
            os.write(writer[0], QUESTION.encode())  # a line, but no end of file: the reader waits
        if struct.unpack("i", fcntl.ioctl(writer[0], termios.FIONREAD, b"\0\0\0\0"))[0]:
            return False
        time.sleep(0.5)  # from its last read() into the next one, which blocks
        return True

    try:
        code, _, err = interrupt_when(home, ["eval", str(fifo)], reader_waiting)
    finally:
        for fd in writer:
            os.close(fd)
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err


# --- usage errors and k -----------------------------------------------------------


@pytest.mark.slow  # real `paperqa` processes: the fast set keeps one per exit code
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["search", "attention", "-k", "-1"], "-k"),
        (["search", "attention", "-k", "0"], "-k"),
        (["ask", "attention", "-k", "0"], "-k"),
        (["eval", "questions.jsonl", "-k", "0"], "-k"),
        (["search", "attention", "-k", "ten"], "-k"),
        (["no-such-command"], "no-such-command"),
        (["search", "  "], "the question is empty"),
        (["catalog", "show", "NoSuchPaper"], "NoSuchPaper"),
    ],
)
def test_usage_errors_exit_2_with_one_clear_line(home: Path, args: list[str], words: str):
    proc = paperqa_cmd(home, *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert words in proc.stderr and no_traceback(proc)


@pytest.mark.parametrize("k", [0, -1])
def test_library_rejects_k_below_1(home: Path, k: int):
    lib = Library(Settings.load(env={}, home=home, embedder="hash"))
    with pytest.raises(PaperqaError, match="k must be"):
        lib.search("attention", k=k)
    with pytest.raises(PaperqaError, match="k must be"):
        lib.ask("attention", k=k)


def test_library_rejects_a_k_setting_below_1(home: Path):
    lib = Library(Settings.load(env={"PAPERQA_K": "0"}, home=home, embedder="hash"))
    with pytest.raises(PaperqaError, match="PAPERQA_K must be"):
        lib.ask("attention")


# --- eval on malformed question files ---------------------------------------------


def _bad_json(p: Path) -> None:
    p.write_text(QUESTION + '{"id": "b", "q": \n', encoding="utf-8")


def _not_an_object(p: Path) -> None:
    p.write_text(QUESTION + '["b", "What is LoRA?"]\n', encoding="utf-8")


def _binary(p: Path) -> None:
    p.write_bytes(QUESTION.encode() + b"\x00\x01\xff\xfe\x89PNG\r\n")


def _folder(p: Path) -> None:
    p.mkdir()


@pytest.mark.slow  # real `paperqa` processes: the fast set keeps one per exit code
@pytest.mark.parametrize(
    ("make", "line", "words"),
    [
        (_bad_json, 2, "not valid JSON"),
        (_not_an_object, 2, "not a JSON object"),
        (_binary, 2, "not UTF-8"),
        (_folder, 0, "folder"),
    ],
    ids=["bad-json", "not-an-object", "binary", "folder"],
)
def test_eval_on_a_malformed_file_names_file_and_line_and_exits_2(
    home: Path, tmp_path: Path, make: Callable[[Path], None], line: int, words: str
):
    path = tmp_path / "questions.jsonl"
    make(path)
    proc = paperqa_cmd(home, "eval", str(path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{path}:{line}:" in proc.stderr and words in proc.stderr and no_traceback(proc)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('"just a string"\n', "a string, not a JSON object"),
        ("null\n", "null, not a JSON object"),
        ('{"id": "a"}\n', "no 'q' field"),
        ('{"id": "a", "q": "x", "expect": "2305.14314"}\n', "'expect' must be a list"),
        ("\n\n", "no questions"),
    ],
)
def test_read_questions_names_what_is_wrong(tmp_path: Path, text: str, words: str):
    path = tmp_path / "q.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(pq_eval.QuestionFileError, match=words) as info:
        pq_eval.read_questions(path)
    assert str(info.value).startswith(f"{path}:")


# --- one base class ---------------------------------------------------------------


def test_every_error_class_of_the_package_derives_from_paperqa_error():
    """The CLI catches `PaperqaError` alone; an error class outside it would print a traceback."""
    outside = []
    for info in pkgutil.walk_packages(paperqa.__path__, "paperqa."):
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or name.startswith("_"):
                continue  # imported, or private (download's retry signals never reach a user)
            if issubclass(cls, Exception) and not issubclass(cls, PaperqaError):
                outside.append(f"{module.__name__}.{name}")
    assert outside == []


def test_download_interrupted_inside_with_a_report_exits_130(monkeypatch: pytest.MonkeyPatch, home: Path):
    """download may catch Ctrl-C itself, show what it got, and return a report marked interrupted."""
    from paperqa.app import cli

    class Interrupted:
        ok, interrupted = True, True

        def to_dict(self) -> dict[str, object]:
            return {"ok": True, "interrupted": True, "results": []}

    monkeypatch.setattr(Library, "download", lambda self, **kw: Interrupted())
    assert cli.run(["download", "--json", "--home", str(home)]) == 130
