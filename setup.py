"""Install videomae-det: `pip install -e .` (runtime) or `pip install -e .[test]`."""
import os

from setuptools import find_packages, setup


def bundled(folder):
    """``tools/`` and ``configs/`` ship inside the wheel as ``videomae_det/_project/<folder>``
    (the same tree as in the checkout, so a config's relative ``_base_`` and a tool's own
    paths still hold); the installed ``videomae-det`` command runs and reads them there."""
    packages, package_dir = [], {}
    for root, _, files in os.walk(folder):
        if '__pycache__' in root or not any(f.endswith('.py') for f in files):
            continue
        name = 'videomae_det._project.' + root.replace(os.sep, '.')
        packages.append(name)
        package_dir[name] = root
    return packages, package_dir


TOOL_PACKAGES, TOOL_DIRS = bundled('tools')
CONFIG_PACKAGES, CONFIG_DIRS = bundled('configs')

# The runtime set is pinned: these versions are known to install together in one pip
# command and to run every tool of the project (see docs/install.md).
RUNTIME = [
    'torch==2.14.1',
    'torchvision==0.29.1',
    'mmengine==0.10.7',
    'mmcv-lite==2.1.0',
    # decord: fastest random access, the default where it installs (it has no wheels for
    # ARM Linux or macOS on Apple silicon and is no longer released); PyAV's wheels carry
    # FFmpeg and install everywhere, and are used when decord is missing
    'decord==0.6.0; platform_machine == "x86_64" or platform_machine == "AMD64"',
    'av==18.1.0',
    'pycocotools==2.0.11',
    'opencv-python==4.14.0.94',
    'numpy==2.4.6',
    'imageio-ffmpeg==0.8.1',
    'matplotlib==3.11.2',
    'tqdm==4.70.1',
    'safetensors==0.8.0',
    'psutil==7.2.2',
    'scipy==1.17.1',  # track association (linear_sum_assignment)
]

# Test-only references: mmaction2's AVA evaluation and ViT, HuggingFace's VideoMAE, and
# onnxruntime for the export check. opencv-contrib-python is pinned to the same version
# as opencv-python, otherwise mmaction2 pulls OpenCV 5.
TEST = [
    'pytest==9.2.0',
    'mmaction2==1.2.0',
    'opencv-contrib-python==4.14.0.94',
    'transformers==5.23.0',
    'onnx==1.23.2',
    'onnxruntime==1.32.0',
    'motmetrics==1.4.0',  # tools/eval_tracks.py: IDF1, MOTA, ID switches
]

setup(
    name='videomae-det',
    version='0.1.0',
    description='Spatio-temporal action detection (AVA) with VideoMAE ViT backbones',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(include=['videomae_det', 'videomae_det.*'])
    + TOOL_PACKAGES + CONFIG_PACKAGES,
    package_dir={**TOOL_DIRS, **CONFIG_DIRS},
    package_data={'videomae_det': ['assets/*.pbtxt'], 'videomae_det._project.tools': ['*.sh']},
    entry_points={'console_scripts': ['videomae-det = videomae_det.command:main']},
    install_requires=RUNTIME,
    # onnx: class ids/names written into exported ONNX files (tools/export_onnx.py);
    # torchcodec: a third decoder; needs the system's FFmpeg 4-9 libraries (apt install
    # libavcodec59 libavformat59 libavutil57 libswscale6 libavdevice59 libavfilter8)
    # docs: the MkDocs site of docs/ (mkdocs.yml; CI runs `mkdocs build --strict`)
    extras_require={'test': TEST, 'export': ['onnx==1.23.2'],
                    'torchcodec': ['torchcodec==0.17.0'], 'docs': ['mkdocs==1.6.1']},
    license='Apache-2.0',
)
