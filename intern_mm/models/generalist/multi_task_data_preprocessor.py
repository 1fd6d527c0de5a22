"""Route each task's batch through that task's own data preprocessor."""
from typing import Dict, Union

from mmengine.model import BaseDataPreprocessor
from torch import nn

from intern_mm.registry import MODELS

__all__ = ['MultiTaskDataPreprocessor']


@MODELS.register_module()
class MultiTaskDataPreprocessor(BaseDataPreprocessor):
    """Data preprocessor of a multi-task model: ``{task: batch}`` in, dicts out.

    Each task's batch is processed by that task's stock preprocessor (mmpretrain
    ``ClsDataPreprocessor``, mmdet ``DetDataPreprocessor``, mmseg
    ``SegDataPreProcessor``: normalisation, padding, batch augments), and the results
    are gathered as ``dict(inputs={task: inputs}, data_samples={task: samples})``, the
    keyword arguments of the multi-task model's ``forward``.

    Args:
        preprocessors (dict[str, nn.Module | dict]): Per-task preprocessors or configs
            (configs need a scoped type, e.g. ``'mmdet.DetDataPreprocessor'``).

    Example:
        >>> pre = MultiTaskDataPreprocessor(dict(
        ...     cls=dict(type='mmpretrain.ClsDataPreprocessor')))
        >>> out = pre({'cls': dict(inputs=[torch.zeros(3, 8, 8)])})
        >>> out['inputs']['cls'].shape
        torch.Size([1, 3, 8, 8])
    """

    def __init__(self, preprocessors: Dict[str, Union[nn.Module, dict]]) -> None:
        super().__init__()
        if not preprocessors:
            raise ValueError('MultiTaskDataPreprocessor needs at least one task')
        self.preprocessors = nn.ModuleDict({
            task: p if isinstance(p, nn.Module) else MODELS.build(p)
            for task, p in preprocessors.items()
        })

    def forward(self, data: dict, training: bool = False) -> dict:
        """Preprocess every task's batch.

        Args:
            data (dict): ``{task: batch}`` (each batch as its dataloader yields it).
            training (bool): Training mode (enables batch augments).

        Returns:
            dict: ``dict(inputs={task: Tensor}, data_samples={task: list})``.

        Raises:
            KeyError: On a task without a preprocessor.
        """
        if not isinstance(data, dict) or 'inputs' in data:
            raise TypeError('MultiTaskDataPreprocessor expects {task: batch}, got a plain '
                            'batch; feed the model through the multi-task loops')
        inputs, samples = {}, {}
        for task, batch in data.items():
            if task not in self.preprocessors:
                raise KeyError(f'no data preprocessor for task {task!r} (have '
                               f'{list(self.preprocessors)})')
            out = self.preprocessors[task](batch, training)
            inputs[task] = out['inputs']
            samples[task] = out.get('data_samples')
        return dict(inputs=inputs, data_samples=samples)
