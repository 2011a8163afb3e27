"""Exceptions come back as themselves; bad input fails at submit, naming the culprit."""

from __future__ import annotations

import threading

import pytest

from clustrix import PicklingError, RemoteError, ResultCorrupted, cluster

LOCK = threading.Lock()


class CustomError(Exception):
    def __init__(self, code, detail):
        super().__init__(code, detail)
        self.code = code


def test_remote_valueerror_reraised_as_valueerror_with_remote_traceback():
    @cluster
    def parse(text):
        return int(text)

    with pytest.raises(ValueError, match="invalid literal") as info:
        parse("x")
    notes = "\n".join(info.value.__notes__)
    assert "Remote traceback (clustrix job" in notes and "in parse" in notes


def test_custom_exception_class_keeps_type_and_attributes():
    @cluster
    def fail():
        raise CustomError(7, "bad input")

    with pytest.raises(CustomError) as info:
        fail()
    assert info.value.code == 7


def test_function_referring_to_unpicklable_global_fails_at_submit_naming_it():
    @cluster
    def locked():
        with LOCK:
            return 1

    with pytest.raises(PicklingError, match=r"function .*locked because it refers to global 'LOCK' \(lock\)"):
        locked.submit()


def test_unpicklable_keyword_argument_is_named():
    @cluster
    def take(**kwargs):
        return len(kwargs)

    import socket

    with pytest.raises(PicklingError, match=r"keyword argument 'conn' \(type socket\)"):
        with socket.socket() as conn:
            take.submit(conn=conn)


def test_unpicklable_return_value_becomes_a_typeerror_naming_the_type():
    @cluster
    def make_lock():
        import threading

        return threading.Lock()

    with pytest.raises(TypeError, match="returned a lock that cannot be pickled"):
        make_lock()


def test_unpicklable_exception_becomes_remote_error_naming_its_type():
    @cluster
    def raise_odd():
        import threading

        class Odd(Exception):
            def __init__(self):
                super().__init__("odd")
                self.lock = threading.Lock()

        raise Odd()

    with pytest.raises(RemoteError, match="Odd: odd"):
        raise_odd()


def test_tampered_result_file_is_refused(tmp_path):
    from clustrix.outcome import read_outcomes
    from clustrix.runner import encode

    key = b"k" * 32
    path = tmp_path / "0.pkl"
    path.write_bytes(encode([("ok", 41)], key)[:-1] + b"\x00")
    with pytest.raises(ResultCorrupted, match="does not match the job's key"):
        read_outcomes(path, key)
    path.write_bytes(b"not a result")
    with pytest.raises(ResultCorrupted, match="bad header"):
        read_outcomes(path, key)
