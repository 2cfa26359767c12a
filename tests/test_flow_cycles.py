import gc
import weakref

from pipeline.flows.cycles import collected_per_batch


class Node:
    def __init__(self) -> None:
        self.other = self  # a reference cycle: only the cyclic collector frees it


def test_cycles_made_in_the_block_are_collected_by_the_yielded_call():
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
        gc.enable()


def test_objects_alive_on_entry_are_thawed_on_exit():
    before = Node()
    alive = weakref.ref(before)
    with collected_per_batch():
        pass
    assert gc.get_freeze_count() == 0
    del before
    gc.collect()  # a frozen object would survive this
    assert alive() is None
