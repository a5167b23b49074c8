"""`python -m effnet cam`: PNGs and JSON for good images, one stderr line per bad one, exit codes."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from effnet import cli_cam

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="effnet")
    cli_cam.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_module_command_processes_good_images_and_reports_the_bad_one(tmp_path):
    shutil.copy(ASSETS / "chelsea.jpg", tmp_path / "chelsea.jpg")
    (tmp_path / "sub").mkdir()
    shutil.copy(ASSETS / "coffee.jpg", tmp_path / "sub" / "my coffee (1).jpg")
    (tmp_path / "notes.jpg").write_text("shopping list: milk, eggs\n")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    completed = subprocess.run(
        [sys.executable, "-m", "effnet", "cam", "chelsea.jpg", "notes.jpg", "sub/my coffee (1).jpg",
         "--models", "lite0", "--target", "tabby", "--out", "maps", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 1, completed.stderr
    errors = completed.stderr.strip().splitlines()
    assert len(errors) == 1 and "notes.jpg" in errors[0] and "text file" in errors[0], completed.stderr
    records = json.loads(completed.stdout)
    assert [r["image"] for r in records] == ["chelsea.jpg", "sub/my coffee (1).jpg"]
    for record, size in zip(records, [(451, 300), (600, 400)]):
        assert record["model"] == "lite0" and record["trained"] is True and record["resolution"] == 224
        assert record["target"] == "tabby" and record["target_index"] == 281
        assert len(record["top5"]) == 5 and set(record["top5"][0]) == {"label", "prob"}
        assert 0 < record["attention"]["mass_share_50"] < 1 and len(record["attention"]["centre"]) == 2
        png = tmp_path / record["cam"]
        assert png.parent == tmp_path / "maps"
        with Image.open(png) as picture:
            assert picture.format == "PNG" and picture.size == size
    assert records[0]["top5"][0]["label"] in ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat")
    assert records[1]["top5"][0]["label"] in ("espresso", "cup")
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == ["chelsea_lite0.png", "my_coffee_1_lite0.png"]


def test_run_writes_one_png_per_image_and_model_and_keeps_same_stems_apart(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        shutil.copy(ASSETS / "chelsea.jpg", tmp_path / folder / "cat.jpg")
    out = tmp_path / "out"
    args = parse(["cam", str(tmp_path / "a" / "cat.jpg"), str(tmp_path / "b" / "cat.jpg"),
                  "--models", "lite0,lite1", "--layer", "stage7", "--out", str(out)])
    assert cli_cam.run(args) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and all("stage7" in line for line in lines)
    assert sorted(p.name for p in out.iterdir()) == ["cat-2_lite0.png", "cat-2_lite1.png", "cat_lite0.png", "cat_lite1.png"]


@pytest.mark.parametrize(
    "options, message",
    [
        (["--method", "scorecam"], "ScoreCAM is not offered"),
        (["--target", "tabbby"], "close matches: 'tabby'"),
        (["--layer", "stage12"], "unknown layer"),
        (["--models", "lite0,lite9"], "lite9"),
        (["--resolution", "8"], "resolution"),
    ],
)
def test_option_mistakes_exit_2_with_one_line(tmp_path, capsys, options, message):
    args = parse(["cam", str(ASSETS / "chelsea.jpg"), "--out", str(tmp_path / "out"), *options])
    assert cli_cam.run(args) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and message in error[0]
    assert not (tmp_path / "out").exists()


def test_output_names_cannot_escape_the_folder():
    assert cli_cam._safe_stem("../../etc/passwd") == "passwd"
    assert cli_cam._safe_stem(".hidden.png") == "hidden"
    assert cli_cam._safe_stem("ünïcødé photo!.jpg") == "n_c_d_photo"
    assert cli_cam._safe_stem("....jpg") == "image"


def test_faithfulness_adds_an_object_to_each_entry(tmp_path, capsys):
    args = parse(["cam", str(ASSETS / "chelsea.jpg"), "--models", "lite0", "--out", str(tmp_path), "--faithfulness", "--json"])
    assert cli_cam.run(args) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    figures = entry["faithfulness"]
    assert {"keep_highlighted", "road_most_relevant_first", "road_least_relevant_first", "road_combined",
            "baselines", "percentiles", "seconds", "better"} <= set(figures)
    assert set(figures["road_most_relevant_first"]) == {str(p) for p in figures["percentiles"]}
    assert set(figures["baselines"]) == {"random", "centre"}
    assert all(-1 <= figures["baselines"][kind]["keep_highlighted"] <= 1 for kind in ("random", "centre"))
    without = parse(["cam", str(ASSETS / "chelsea.jpg"), "--models", "lite0", "--out", str(tmp_path), "--json"])
    assert cli_cam.run(without) == 0
    assert "faithfulness" not in json.loads(capsys.readouterr().out)[0]
