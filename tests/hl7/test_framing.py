"""MLLP framing and acknowledgements, without a socket: messages split across reads or sent
back to back come out whole; broken framing is named; an ACK answers in the sender's version
with their control id, from us to them."""

from __future__ import annotations

from farcare.hl7.ack import AckCode, ErrorCode, Problem, build_ack, read_ack, reject_raw
from farcare.hl7.header import decode, read_header
from farcare.hl7.mllp import BrokenFrame, Deframer, frame

MSG = "MSH|^~\\&|ALISA|CITYLAB|FARCARE|HUB|20261206093000||ORU^R01^ORU_R01|C-9|P|2.5.1\rPID|1||1"


def test_a_message_split_over_many_reads_comes_out_whole() -> None:
    wire = frame(MSG)
    deframer = Deframer()
    events = []
    for index in range(len(wire)):
        events += deframer.feed(wire[index : index + 1])
    assert events == [MSG.encode()]
    assert not deframer.pending


def test_two_messages_in_one_read_with_a_line_feed_between_are_both_taken() -> None:
    events = Deframer().feed(frame(MSG) + b"\n" + frame(MSG.replace("C-9", "C-10")))
    assert [read_header(event).control_id for event in events] == ["C-9", "C-10"]  # type: ignore[arg-type, union-attr]


def test_bytes_before_the_start_block_are_broken_framing_with_the_header_kept() -> None:
    events = Deframer().feed(MSG.encode() + b"\r" + frame(MSG))
    assert isinstance(events[0], BrokenFrame)
    assert events[0].reason == "bytes before the start block"
    assert read_header(events[0].data).control_id == "C-9"  # type: ignore[union-attr]


def test_a_message_over_the_limit_is_refused_and_the_stream_resumes_after_its_end() -> None:
    deframer = Deframer(max_bytes=200)
    events = deframer.feed(frame(MSG + "\rNTE|" + "x" * 500))
    assert isinstance(events[0], BrokenFrame)
    assert events[0].reason == "the message is longer than allowed"
    assert deframer.feed(frame(MSG)) == [MSG.encode()]


def test_a_message_without_its_end_block_waits() -> None:
    deframer = Deframer()
    assert deframer.feed(b"\x0b" + MSG.encode()) == []
    assert deframer.pending
    assert read_header(deframer.partial()).control_id == "C-9"  # type: ignore[union-attr]


def test_an_acceptance_answers_in_the_senders_version_to_the_sender() -> None:
    header = read_header(MSG)
    assert header is not None
    ack = build_ack(header, AckCode.ACCEPT, text="1 report(s) stored")
    msh = ack.split("\r")[0].split("|")
    assert msh[2:6] == ["FARCARE", "HUB", "ALISA", "CITYLAB"]
    assert msh[8] == "ACK^R01^ACK"
    assert msh[11] == "2.5.1"
    assert read_ack(ack) == ("AA", "C-9", "1 report(s) stored")


def test_an_error_names_the_reason_and_the_place_in_an_err_segment() -> None:
    header = read_header(MSG.replace("2.5.1", "2.3"))
    assert header is not None
    problem = Problem(ErrorCode.UNKNOWN_KEY, "No patient | with ^ these identifiers", "PID", 1, 3)
    ack = build_ack(header, AckCode.ERROR, problem=problem)
    segments = ack.split("\r")
    assert segments[0].split("|")[11] == "2.3"
    code, control, text = read_ack(ack)
    assert (code, control) == ("AE", "C-9")
    assert text == "No patient with these identifiers"
    assert segments[2].startswith("ERR|PID^1^3^204&Unknown key identifier&HL70357")
    ack_251 = build_ack(read_header(MSG), AckCode.ERROR, problem=problem)  # type: ignore[arg-type]
    err = ack_251.split("\r")[2].split("|")
    assert (err[2], err[3], err[4]) == ("PID^1^3", "204^Unknown key identifier^HL70357", "E")


def test_garbage_without_a_header_gets_no_answer_and_with_one_an_ar() -> None:
    assert reject_raw(b"GET / HTTP/1.1\r\n", "bytes before the start block") is None
    nack = reject_raw(MSG.encode(), "bytes before the start block")
    assert nack is not None
    assert read_ack(nack)[:2] == ("AR", "C-9")


def test_cyrillic_in_windows_1251_is_read_when_the_header_says_nothing() -> None:
    text = MSG + "\rPID|1||1||Иванов"
    assert decode(text.encode("cp1251")) == text
    assert decode(text.encode("utf-8")) == text
