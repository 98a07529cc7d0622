"""`assistant eval intents|sentiment` and `assistant train sentiment`: clear errors, --json last line, --plot PNG."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from assistant.cli import app

runner = CliRunner()

INTENTS = {
    "track_order": ["where is my parcel", "track my order please", "my package has not arrived yet",
                    "when will my order arrive", "shipping status of my order", "has my order shipped"],
    "refund": ["i want my money back", "how do i get a refund", "refund my purchase please",
               "when will i get my refund", "money back for returned item", "refund status please"],
    "oos": ["what is the weather today", "tell me a joke", "who is the president of france",
            "how tall is mount everest", "play some jazz music", "what is two plus two"],
}


def write_csv(path, rows, header="utterance,intent"):
    lines = [header] + [f'"{t}",{label}' for t, label in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def split(tmp_path):
    train, test = [], []
    for label, texts in INTENTS.items():
        train += [(t, label) for t in texts[:4]]
        test += [(t, label) for t in texts[4:]]
    return write_csv(tmp_path / "train.csv", train), write_csv(tmp_path / "test.csv", test)


def test_malformed_csv_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("text\nhello\n")
    _, test = split(tmp_path)
    result = runner.invoke(app, ["eval", "intents", "--train", str(bad), "--test", str(test)])
    assert result.exit_code != 0
    assert "bad.csv:1: need at least 2 columns" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_single_example_class_is_rejected(tmp_path):
    train = write_csv(tmp_path / "t.csv", [("hi", "greet"), ("hello", "greet"), ("bye", "leave")])
    result = runner.invoke(app, ["eval", "intents", "--train", str(train), "--test", str(train)])
    assert result.exit_code != 0 and "label 'leave' has 1 example" in result.stderr


def test_sentiment_labels_are_checked(tmp_path):
    test = write_csv(tmp_path / "s.csv", [("great", "good"), ("awful", "bad")], header="text,sentiment")
    result = runner.invoke(app, ["eval", "sentiment", "--test", str(test)])
    assert result.exit_code != 0 and "sentiment labels must be" in result.stderr


@pytest.mark.slow
def test_eval_intents_json_and_plot(tmp_path):
    train, test = split(tmp_path)
    png = tmp_path / "cm.png"
    result = runner.invoke(app, ["eval", "intents", "--train", str(train), "--test", str(test),
                                 "--epochs", "1", "--json", "--plot", str(png)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "oos_precision",
                "train_seconds", "latency_ms_p50"):
        assert key in metrics
    assert metrics["n"] == 6 and 0 <= metrics["accuracy"] <= 1
    assert metrics["in_scope_accuracy"] >= 0.5
    assert metrics["oos_score"] == "max_logit"  # the training split has oos rows to calibrate on
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_eval_sentiment_default_json(tmp_path):
    rows = [("thank you so much, wonderful service", "positive"), ("this is terrible, I am furious", "negative"),
            ("what time do you open on monday", "neutral"), ("I love it, great quality", "positive"),
            ("how long does a refund take?", "neutral")]
    test = write_csv(tmp_path / "s.csv", rows, header="text,sentiment")
    png = tmp_path / "sentiment.png"
    result = runner.invoke(app, ["eval", "sentiment", "--test", str(test), "--json", "--plot", str(png)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics["model"] == "default" and metrics["accuracy"] >= 0.8
    assert set(metrics) >= {"accuracy", "macro_f1", "latency_ms_p50", "negative_recall"}
    assert metrics["neutral_read_negative"] == 0.0  # neither plain question reads as a complaint
    report = "\n".join(result.stdout.strip().splitlines()[:-1])  # the readable part, before the JSON line
    assert "neutral_read_negative" in report and "negative_recall" in report
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_train_sentiment_saves_a_model_understanding_loads(tmp_path, monkeypatch):
    rows = [(f"{w} service, {x}", label) for w, label in (("great", "positive"), ("awful", "negative"),
                                                         ("normal", "neutral"))
            for x in ("thanks", "today", "again", "really", "ok", "hmm")]
    data = write_csv(tmp_path / "s.csv", rows, header="text,sentiment")
    out = tmp_path / "sentiment-model"
    result = runner.invoke(app, ["train", "sentiment", "--data", str(data), "--out", str(out), "--epochs", "0",
                                 "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["n_train"] == 18
    from assistant.engine.understanding.evaluation import load_encoder
    from assistant.engine.understanding.sentiment import TrainedSentiment

    model = TrainedSentiment.load(out, load_encoder())
    assert model.predict(["great service, thanks", "awful service, again"]) == ["positive", "negative"]
