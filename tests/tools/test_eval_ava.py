import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / 'tests' / 'fixtures' / 'eval_detection'
ARGS = [str(FIXTURES / 'gt.csv'), str(FIXTURES / 'pred.csv'), '--label-map',
        str(FIXTURES / 'action_list.txt')]


def load_tool():
    spec = importlib.util.spec_from_file_location('eval_ava', REPO / 'tools' / 'eval_ava.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('mode', ['official', 'legacy'])
def test_report_table_json_and_plot(tmp_path, capsys, mode):
    tool = load_tool()
    out, plot = tmp_path / 'r' / 'report.json', tmp_path / 'ap.png'
    assert tool.main(ARGS + ['--mode', mode, '--out', str(out), '--plot', str(plot)]) == 0
    printed = capsys.readouterr().out
    assert f'mAP ({mode}, mean of 3 classes): 0.0939' in printed
    assert '  1  action1' in printed and '0.1705' in printed
    report = json.loads(out.read_text())
    assert report['mAP'] == pytest.approx(0.09385521885521886, abs=1e-12)
    assert report['mode'] == mode
    assert report['per_class'] == pytest.approx(
        {'1': 0.17045454545454547, '2': 0.0, '3': 0.1111111111111111}, abs=1e-12)
    assert report['counts']['detections_out_of_map'] == 0
    assert plot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert sorted(p.name for p in tmp_path.rglob('*') if p.is_file()) == ['ap.png',
                                                                          'report.json']


def test_skipped_labels_are_counted_and_null_classes(tmp_path, capsys):
    det = tmp_path / 'det.csv'
    det.write_text((FIXTURES / 'pred.csv').read_text()
                   + '3reY9zJKhqN,1774,0.1,0.1,0.5,0.5,42,0.9\n')
    label_map = tmp_path / 'map.pbtxt'
    label_map.write_text((FIXTURES / 'action_list.txt').read_text()
                         + 'item {\n  name: "action9"\n  id: 9\n}\n')
    out = tmp_path / 'report.json'
    assert load_tool().main([ARGS[0], str(det), '--label-map', str(label_map),
                             '--out', str(out)]) == 0
    report = json.loads(out.read_text())
    assert report['counts']['detections_out_of_map'] == 1
    assert report['per_class']['9'] is None
    assert report['mAP'] == pytest.approx(0.09385521885521886, abs=1e-12)
    assert '1 with labels outside the label map' in capsys.readouterr().out


def test_bad_input_is_one_clear_error(tmp_path, capsys):
    det = tmp_path / 'det.csv'
    det.write_text('3reY9zJKhqN,1774,0.1,0.1,0.5,0.5,1,0.9\n'
                   '3reY9zJKhqN,1774,0.6,0.1,0.5,0.5,1,0.9\n')
    out = tmp_path / 'report.json'
    assert load_tool().main([ARGS[0], str(det)] + ARGS[2:] + ['--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f'error: {det}, line 2: x2 = 0.5 < x1 = 0.6 '
                           "(row: '3reY9zJKhqN,1774,0.6,0.1,0.5,0.5,1,0.9')")
    assert not out.exists()
    assert load_tool().main(ARGS[:3] + [str(tmp_path / 'missing.pbtxt')]) == 2
    assert 'missing.pbtxt: label map file not found' in capsys.readouterr().err


@pytest.mark.slow
def test_command_line(tmp_path):
    out = tmp_path / 'report.json'
    proc = subprocess.run([sys.executable, str(REPO / 'tools' / 'eval_ava.py')] + ARGS
                          + ['--out', str(out)], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'mAP (official' in proc.stdout
    assert set(json.loads(out.read_text())) >= {'mAP', 'per_class', 'mode'}


def test_csv_to_map_imports_neither_torch_nor_mmengine(tmp_path):
    """The CSV -> mAP command is a numpy program: importing torch and mmengine would cost it
    more than reading a quarter of AVA val. Run it in a fresh interpreter and look at what
    it loaded."""
    out = tmp_path / 'report.json'
    script = (
        'import json, runpy, sys\n'
        f'sys.argv = {[str(REPO / "tools" / "eval_ava.py")] + ARGS + ["--out", str(out)]!r}\n'
        'try:\n'
        '    runpy.run_path(sys.argv[0], run_name="__main__")\n'
        'except SystemExit as e:\n'
        '    code = e.code\n'
        'heavy = sorted(m for m in sys.modules if m.split(".")[0] in\n'
        '               ("torch", "mmengine", "mmcv", "torchvision", "cv2", "decord"))\n'
        'print(json.dumps(dict(code=code, heavy=heavy)))\n')
    proc = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, 'PYTHONPATH': str(REPO)})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == dict(code=0, heavy=[])
    assert json.loads(out.read_text())['mAP'] == pytest.approx(0.09385521885521886, abs=1e-12)


def test_metric_still_registers_by_name():
    """The metric is imported lazily now; a config naming it by string must still find it."""
    script = ('from videomae_det.registry import METRICS\n'
              'print(METRICS.get("AVAMetric").__module__)\n')
    proc = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          env={**os.environ, 'PYTHONPATH': str(REPO)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'videomae_det.evaluation.metrics.ava_metric'
