"""Cache work under torch.distributed: rank 0 first, then the others; a failure stops every process."""

import os
import socket
from datetime import timedelta

import torch.distributed as dist
import torch.multiprocessing as mp

from convrnn.data.rank_order import CacheRoundError, in_rank_order


def test_without_a_process_group_the_work_simply_runs():
    calls = []
    assert in_rank_order(lambda: calls.append("ran") or 7, "data") == 7
    assert calls == ["ran"] and not dist.is_initialized()


def worker(rank: int, port: int, directory: str) -> None:
    os.environ.update(LOCAL_RANK=str(rank), GLOO_SOCKET_IFNAME="lo")
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2,
                            timeout=timedelta(seconds=20))
    journal = os.path.join(directory, "journal.txt")

    def fill() -> str:
        with open(journal, "a") as handle:  # rank 1 may only start once rank 0 has finished
            handle.write(f"start {rank}\n")
        # work nested in a round is that round's: it runs plainly, without rounds of its own
        inner = in_rank_order(lambda: f"read by {rank}", "a nested piece")
        with open(journal, "a") as handle:
            handle.write(f"end {rank}\n")
        return inner

    def fail() -> None:
        if rank == 0:
            raise OSError("download failed")

    try:
        assert in_rank_order(fill, "the journal") == f"read by {rank}"
        try:
            in_rank_order(fail, "data set 'x'")
        except (OSError, CacheRoundError) as error:
            with open(os.path.join(directory, f"error{rank}.txt"), "w") as handle:
                handle.write(f"{type(error).__name__}: {error}")
    finally:
        dist.destroy_process_group()


def test_rank_0_works_first_and_its_failure_stops_the_others(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mp.spawn(worker, args=(port, str(tmp_path)), nprocs=2, join=True)
    assert (tmp_path / "journal.txt").read_text().splitlines() == ["start 0", "end 0", "start 1", "end 1"]
    assert (tmp_path / "error0.txt").read_text() == "OSError: download failed"
    assert (tmp_path / "error1.txt").read_text() == (
        "CacheRoundError: rank 1 of 2: another process failed to prepare data set 'x' in the cache (round 1; its "
        "own error says why), so this one stops too")
