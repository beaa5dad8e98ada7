"""Checking, before any work, that a path given on the command line can be written — creating nothing."""

import os

import pytest

from convrnn.training.files import check_writable, write_json


def test_a_new_path_under_a_writable_directory_is_accepted_and_not_created(tmp_path):
    assert check_writable(tmp_path / "a" / "b", kind="directory", where="train", argument="out") == tmp_path / "a" / "b"
    assert check_writable(tmp_path / "r.html", kind="file", where="report", argument="out") == tmp_path / "r.html"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("relative", "kind", "message"), [
    ("file", "directory", "expected a directory to write, got '{p}', which is a file"),
    ("file/inside", "directory", "which lies inside '{root}/file', not a directory"),
    ("file/x/y.html", "file", "which lies inside '{root}/file', not a directory"),
    ("folder", "file", "expected a file to write, got '{p}', which is a directory"),
])
def test_a_path_that_cannot_be_written_names_the_argument(tmp_path, relative, kind, message):
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    path = tmp_path / relative
    with pytest.raises(ValueError) as raised:
        check_writable(path, kind=kind, where="train", argument="out")
    assert str(raised.value).startswith("train: argument 'out' expected a ")
    assert message.format(p=path, root=tmp_path) in str(raised.value)


def test_a_directory_without_write_permission_is_refused(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access   # as root every directory is writable: the denial is simulated where it is asked
    monkeypatch.setattr(os, "access", lambda path, mode: False if path == locked else real_access(path, mode))
    with pytest.raises(ValueError, match=f"cannot be written here \\('{locked}' is not writable\\)"):
        check_writable(locked / "run", kind="directory", where="train", argument="out")
    assert list(locked.iterdir()) == []


def test_write_json_refuses_nan_and_leaves_no_temporary(tmp_path):
    with pytest.raises(ValueError):
        write_json(tmp_path / "s.json", {"x": float("nan")})
    assert list(tmp_path.iterdir()) == []
