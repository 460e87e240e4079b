"""The password policy's keyboard-walk rule (issue 16 re-check): walks over neighbouring keys
and letter/digit runs are refused; ordinary passphrases, even with a short walk inside, are not."""

from __future__ import annotations

import pytest

from jdl.service._passwords import is_keyboard_walk, password_problems


@pytest.mark.parametrize("password", [
    "poiuytrewq12", "zaq12wsxcde3", "1q2w3e4r5t6y7u", "0987654321ab", "asdfghjkl;'1",
    "QAZWSXEDCRFV", "mnbvcxz12345", "1qaz2wsx3edc4rfv"])
def test_keyboard_walks_and_runs_are_refused(password):
    assert is_keyboard_walk(password)
    assert password_problems(password)  # refused (some by an earlier rule)


@pytest.mark.parametrize("password", [
    "Vivid-Lantern-Otter-42", "plum tree sunday walk", "asdf lkjh qwerty cats",
    "ember quartz willow thimble", "hgT5-pLq9_zRw2"])
def test_passphrases_and_random_passwords_are_not_walks(password):
    assert not is_keyboard_walk(password)
    assert password_problems(password) == []


def test_a_walk_step_is_a_neighbouring_key_or_the_next_letter_or_digit():
    from jdl.service._passwords import _walk_step

    assert _walk_step("q", "1") and _walk_step("q", "2") and _walk_step("z", "a")
    assert _walk_step("a", "b") and _walk_step("9", "8")
    assert not _walk_step("q", "3") and not _walk_step("a", "a") and not _walk_step("9", "a")
