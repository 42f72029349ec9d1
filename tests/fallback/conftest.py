from tests.client.world import world
from tests.realtime.conftest import hf

__all__ = ["hf", "world"]
