from .optim import LayerDecayOptimWrapperConstructor
from .distributed import DeviceAgnosticDDP
from .hooks import SafeCheckpointHook
from .amp import CPUAmpOptimWrapper
from .runner import DetectorRunner
