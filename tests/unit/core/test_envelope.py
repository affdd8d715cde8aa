"""Envelopes: round trip, per-partition order, size and count bounds."""

from __future__ import annotations

from stream.core.envelope import MAX_ITEMS, Item, Packer, is_envelope, pack, partition_of, unpack


def test_round_trip_keeps_bytes_keys_and_timestamps() -> None:
    items = [Item(b"c:1", b'{"a": 1}', 1.5), Item(b"p:\xc3\xa9", b"", 0.0), Item(b"", b"x" * 70_000, 2e9)]
    raw = pack(items)
    assert is_envelope(raw) and not is_envelope(b'{"kind": "rating"}')
    assert list(unpack(raw)) == items


def test_packer_groups_by_partition_in_order_and_bounds_records() -> None:
    packer = Packer(partitions=4, max_bytes=300)
    keys = [f"c:clip-{i % 7}".encode() for i in range(60)]
    for i, key in enumerate(keys):
        packer.add(key, b'{"i": %d}' % i, float(i))
    envelopes = packer.take()
    assert all(len(raw) <= 300 for _, raw in envelopes) and len(envelopes) > 4
    seen: dict[int, list[int]] = {}
    for partition, raw in envelopes:
        for item in unpack(raw):
            assert partition_of(item.key, 4) == partition
            seen.setdefault(partition, []).append(int(item.timestamp))
    assert sorted(i for order in seen.values() for i in order) == list(range(60))
    assert all(order == sorted(order) for order in seen.values())  # input order kept per partition
    assert packer.take() == []


def test_packer_caps_items_per_envelope() -> None:
    packer = Packer(partitions=1, max_bytes=10**9)
    for i in range(MAX_ITEMS + 5):
        packer.add(b"k", b"v", float(i))
    sizes = [len(list(unpack(raw))) for _, raw in packer.take()]
    assert sizes == [MAX_ITEMS, 5]
