import gc
import weakref

from pipeline.flows.cycles import collected_per_batch


class Node:
    def __init__(self) -> None:
        self.other = self  # a reference cycle: only the cyclic collector frees it


def test_cycles_made_in_the_block_are_collected_by_the_yielded_call():
    enabled = gc.isenabled()
    gc.disable()  # no automatic collection may free it first
    try:
        with collected_per_batch() as collect_cycles:
            assert gc.get_freeze_count() > 0  # what was alive on entry is left out of the collections
            node = Node()
            alive = weakref.ref(node)
            del node
            assert alive() is not None
            collect_cycles()
            assert alive() is None
    finally:
        if enabled:
            gc.enable()


def test_objects_alive_on_entry_are_thawed_on_exit():
    before = Node()
    alive = weakref.ref(before)
    try:
        with collected_per_batch():
            raise RuntimeError("a run that fails")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0
    del before
    gc.collect()  # a frozen object would survive this
    assert alive() is None


def test_overlapping_blocks_thaw_only_when_the_last_one_ends():
    with collected_per_batch():
        with collected_per_batch():
            pass
        assert gc.get_freeze_count() > 0  # the outer run is still going: its objects stay frozen
    assert gc.get_freeze_count() == 0
