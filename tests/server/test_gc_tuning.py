"""The serving process's collector settings (server.gc_tuning)."""

import gc

from server.gc_tuning import YOUNG_THRESHOLD, settle_after_startup


def test_settle_freezes_what_exists_and_raises_the_young_threshold() -> None:
    saved = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    try:
        before = len(gc.get_objects())
        settle_after_startup()
        # Everything tracked at that moment is out of reach of later collections.
        assert gc.get_freeze_count() >= before // 2
        assert len(gc.get_objects()) < before // 10
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 20, 10)
    finally:
        gc.unfreeze()  # this process runs other tests: back to the interpreter's settings
        gc.set_threshold(*saved)
    assert gc.get_freeze_count() == 0
