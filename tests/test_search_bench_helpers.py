"""The LoCoMo benchmark's scoring helpers (the benchmark itself runs with
`python -m bench.locomo_retrieval`; timings stay out of tests)."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.locomo_retrieval import evidence_ids, score, session_date, turns


def test_evidence_id_quirks_are_normalised():
    assert evidence_ids(["D8:6; D9:17", "D:11:26", "D30:05", "nonsense"]) == [
        "D8:6",
        "D9:17",
        "D11:26",
        "D30:5",
    ]


def test_recall_hit_and_mrr():
    row = score(["a", "b", "c"] + [f"x{i}" for i in range(20)], {"b", "z"})
    assert row["r@1"] == 0.0 and row["r@5"] == 0.5 and row["hit@10"] == 1.0 and row["mrr"] == 0.5


def test_turns_carry_speaker_caption_and_session_date():
    conversation = {
        "conversation": {
            "session_2_date_time": "1:56 pm on 8 May, 2023",
            "session_2": [
                {"speaker": "Mel", "dia_id": "D2:1", "text": "Look!", "blip_caption": "a dog"}
            ],
            "session_10_date_time": "9:00 am on 1 June, 2023",
            "session_10": [],
        }
    }
    assert turns(conversation) == [
        ("D2:1", "Mel: Look! [shares a photo: a dog]", datetime(2023, 5, 8, 13, 56, tzinfo=UTC))
    ]
    assert session_date("9:00 am on 1 June, 2023").month == 6
