"""DeCLIP-style image-text model: INTERN's Up-A (amateur) stage."""
import json
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from torch import Tensor

from intern_mm.models.losses import mask_tokens
from intern_mm.registry import MODELS, TASK_UTILS
from .tokenizer import CaptionTokenizer

__all__ = ['DeCLIP']

_DEFAULT_PROJECTOR = dict(
    type='mmpretrain.NonLinearNeck',
    hid_channels=512,
    out_channels=512,
    num_layers=2,
    with_last_bn_affine=False,
    with_avg_pool=False,
    norm_cfg=dict(type='BN1d'))
_DEFAULT_PREDICTOR = dict(
    type='mmpretrain.NonLinearNeck',
    hid_channels=128,
    out_channels=512,
    num_layers=2,
    with_avg_pool=False,
    with_last_bn=False,
    with_last_bias=True,
    norm_cfg=dict(type='BN1d'))


@MODELS.register_module()
class DeCLIP(BaseModel):
    """Image-text contrastive model with DeCLIP's extra supervisions (arXiv 2110.05208).

    Image tower: ``backbone`` (any registered backbone; checkpoint keys ``backbone.*``
    feed the next INTERN stage) + optional ``neck``; its last output is globally
    average-pooled (4-D maps) or used as is (2-D vectors, e.g. MetaNet index 4) and
    linearly projected to ``embed_dim``. Text tower: :class:`TextTransformer` on
    :class:`CaptionTokenizer` ids, sentence feature projected to ``embed_dim``.
    ``logit_scale`` is CLIP's learnable temperature ``exp(t)``, clamped at
    ``logit_scale_max`` (100).

    Losses (each a registered module with its own ``loss_weight``; ``None`` disables
    one and skips the computation it needs):

    * ``loss_clip``: symmetric InfoNCE of image view 1 and text view 1 (0.4);
    * ``loss_multi_view``: InfoNCE over all image-view x text-view pairs (0.2);
    * ``loss_simsiam``: SimSiam on the two image views' pooled features through
      ``simsiam_projector`` / ``simsiam_predictor`` (0.2);
    * ``loss_mlm``: masked language modelling of text view 1 (0.2);
    * ``loss_nn``: nearest neighbour of text view 1 in a FIFO text-embedding bank as
      an extra positive of image view 1 (0.2).

    Under DDP the contrastive losses gather negatives from every process.

    Args:
        backbone (dict): Image backbone config.
        text_encoder (dict): Text encoder config (``vocab_size`` and
            ``context_length`` default to the tokenizer's).
        tokenizer (dict | CaptionTokenizer): Tokenizer (config). Its vocabulary is
            stored in checkpoints (extra state ``_extra_state``).
        img_feat_dim (int): Channels of the pooled image feature.
        embed_dim (int): Joint embedding dimension. Defaults to 256.
        neck (dict, optional): Neck applied to the backbone outputs.
        loss_clip (dict, optional): CLIP loss config.
        loss_multi_view (dict, optional): Multi-view loss config.
        loss_simsiam (dict, optional): SimSiam loss config.
        loss_mlm (dict, optional): MLM loss config.
        loss_nn (dict, optional): Nearest-neighbour loss config (``embed_dim`` filled in).
        simsiam_projector (dict, optional): Projector config (``in_channels`` filled in).
            Defaults to a 2-layer ``mmpretrain.NonLinearNeck`` with BN1d.
        simsiam_predictor (dict, optional): Predictor config (``in_channels`` filled
            in). Defaults to a bottleneck ``mmpretrain.NonLinearNeck``.
        mlm_mask_prob (float): Fraction of words masked for MLM. Defaults to 0.15.
        logit_scale_init (float): Initial ``exp(t)``. Defaults to ``1 / 0.07``.
        logit_scale_max (float): Clamp of ``exp(t)``. Defaults to 100.
        data_preprocessor (dict, optional): Defaults to
            :class:`ImageTextDataPreprocessor` with ImageNet mean/std.
        init_cfg (dict, optional): Initialisation config.

    Example:
        >>> tok = CaptionTokenizer(words=['a', 'red', 'blue', 'circle'], context_length=8)
        >>> model = DeCLIP(
        ...     backbone=dict(type='mmpretrain.ResNet', depth=18),
        ...     text_encoder=dict(type='TextTransformer', width=32, depth=1),
        ...     tokenizer=tok, img_feat_dim=512, embed_dim=32)
        >>> imgs = [torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)]
        >>> texts = [tok(['a red circle', 'a blue circle'])] * 2
        >>> losses = model(dict(imgs=imgs, texts=texts), mode='loss')
        >>> sorted(k for k in losses if k.startswith('loss'))
        ['loss_clip', 'loss_mlm', 'loss_multi_view', 'loss_nn', 'loss_simsiam']
    """

    def __init__(self,
                 backbone: dict,
                 text_encoder: dict,
                 tokenizer: Union[dict, CaptionTokenizer],
                 img_feat_dim: int,
                 embed_dim: int = 256,
                 neck: Optional[dict] = None,
                 loss_clip: Optional[dict] = dict(type='InfoNCELoss', loss_weight=0.4),
                 loss_multi_view: Optional[dict] = dict(
                     type='MultiViewInfoNCELoss', loss_weight=0.2),
                 loss_simsiam: Optional[dict] = dict(type='SimSiamLoss', loss_weight=0.2),
                 loss_mlm: Optional[dict] = dict(type='MaskedLMLoss', loss_weight=0.2),
                 loss_nn: Optional[dict] = dict(
                     type='NearestNeighbourLoss', loss_weight=0.2, bank_size=4096),
                 simsiam_projector: Optional[dict] = None,
                 simsiam_predictor: Optional[dict] = None,
                 mlm_mask_prob: float = 0.15,
                 logit_scale_init: float = 1 / 0.07,
                 logit_scale_max: float = 100.,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(
                type='intern_mm.ImageTextDataPreprocessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                bgr_to_rgb=True)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if isinstance(tokenizer, dict):
            tokenizer = TASK_UTILS.build(tokenizer)
        if not isinstance(tokenizer, CaptionTokenizer):
            raise TypeError(f'tokenizer must be a CaptionTokenizer, got {type(tokenizer)}')
        self.tokenizer = tokenizer

        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.img_feat_dim = img_feat_dim
        self.embed_dim = embed_dim

        self.text_encoder = MODELS.build(self._text_encoder_cfg(text_encoder, tokenizer))
        width = self.text_encoder.width

        self.img_projection = nn.Linear(img_feat_dim, embed_dim, bias=False)
        self.text_projection = nn.Linear(width, embed_dim, bias=False)
        if logit_scale_max <= 0 or not 0 < logit_scale_init <= logit_scale_max:
            raise ValueError('need 0 < logit_scale_init <= logit_scale_max, got '
                             f'{logit_scale_init}, {logit_scale_max}')
        self.logit_scale = nn.Parameter(torch.tensor(math.log(logit_scale_init)))
        self.logit_scale_max = logit_scale_max

        self._build_losses(loss_clip, loss_multi_view, loss_simsiam, loss_mlm, loss_nn)

        if self.loss_simsiam is not None:
            self._build_simsiam_heads(simsiam_projector, simsiam_predictor)
        if self.loss_mlm is not None:
            self.mlm_head = nn.Sequential(
                nn.Linear(width, width), nn.GELU(), nn.LayerNorm(width),
                nn.Linear(width, self.text_encoder.vocab_size))
        self.mlm_mask_prob = mlm_mask_prob

    @staticmethod
    def _text_encoder_cfg(text_encoder: dict, tokenizer: CaptionTokenizer) -> dict:
        """The text encoder config with the tokenizer's vocabulary / context defaults."""
        text_encoder = dict(text_encoder)
        text_encoder.setdefault('vocab_size', tokenizer.vocab_size)
        text_encoder.setdefault('context_length', tokenizer.context_length)
        text_encoder.setdefault('pad_token_id', tokenizer.pad_token_id)
        if text_encoder['vocab_size'] < tokenizer.vocab_size:
            raise ValueError(f'text_encoder.vocab_size={text_encoder["vocab_size"]} is '
                             f'smaller than the tokenizer vocabulary ({tokenizer.vocab_size})')
        return text_encoder

    def _build_losses(self, loss_clip: Optional[dict], loss_multi_view: Optional[dict],
                      loss_simsiam: Optional[dict], loss_mlm: Optional[dict],
                      loss_nn: Optional[dict]) -> None:
        """Build the five losses (a falsy config leaves that loss out)."""
        self.loss_clip = MODELS.build(loss_clip) if loss_clip else None
        self.loss_multi_view = MODELS.build(loss_multi_view) if loss_multi_view else None
        self.loss_simsiam = MODELS.build(loss_simsiam) if loss_simsiam else None
        self.loss_mlm = MODELS.build(loss_mlm) if loss_mlm else None
        if loss_nn:
            loss_nn = dict(loss_nn)
            loss_nn.setdefault('embed_dim', self.embed_dim)
            self.loss_nn = MODELS.build(loss_nn)
        else:
            self.loss_nn = None
        if not any((self.loss_clip, self.loss_multi_view, self.loss_simsiam,
                    self.loss_mlm, self.loss_nn)):
            raise ValueError('DeCLIP needs at least one loss')

    def _build_simsiam_heads(self, projector: Optional[dict],
                             predictor: Optional[dict]) -> None:
        """SimSiam projector (on the image feature) and predictor (on its output)."""
        projector = dict(projector or _DEFAULT_PROJECTOR)
        projector.setdefault('in_channels', self.img_feat_dim)
        self.simsiam_projector = MODELS.build(projector)
        predictor = dict(predictor or _DEFAULT_PREDICTOR)
        predictor.setdefault('in_channels', projector['out_channels'])
        self.simsiam_predictor = MODELS.build(predictor)

    # ------------------------------------------------------------- checkpoint state
    def get_extra_state(self) -> Tensor:
        """Store the tokenizer vocabulary in the checkpoint (key ``_extra_state``).

        It is a uint8 tensor of UTF-8 JSON (see :meth:`decode_extra_state`): a tensor,
        because mmengine broadcasts the whole state dict tensor by tensor under DDP.
        """
        data = json.dumps(dict(tokenizer=self.tokenizer.state_dict())).encode('utf-8')
        return torch.tensor(list(data), dtype=torch.uint8)

    @staticmethod
    def decode_extra_state(state: Tensor) -> dict:
        """Decode :meth:`get_extra_state` output, e.g. ``ckpt['state_dict']['_extra_state']``.

        Args:
            state (Tensor): The uint8 tensor.

        Returns:
            dict: ``{'tokenizer': CaptionTokenizer.state_dict()}``.
        """
        if not isinstance(state, Tensor) or state.dtype != torch.uint8:
            raise ValueError('DeCLIP extra state must be a uint8 tensor of JSON, got '
                             f'{type(state)}')
        return json.loads(bytes(state.tolist()).decode('utf-8'))

    def set_extra_state(self, state: Tensor) -> None:
        """Restore the tokenizer vocabulary from a checkpoint.

        Args:
            state (Tensor): Output of :meth:`get_extra_state`.
        """
        decoded = self.decode_extra_state(state)
        if 'tokenizer' not in decoded:
            raise ValueError('DeCLIP extra state has no "tokenizer" entry')
        tokenizer = CaptionTokenizer(words=decoded['tokenizer']['words'])
        tokenizer.load_state_dict(decoded['tokenizer'])
        if tokenizer.vocab_size > self.text_encoder.vocab_size:
            raise ValueError(f'checkpoint vocabulary ({tokenizer.vocab_size} tokens) does '
                             f'not fit the text encoder ({self.text_encoder.vocab_size})')
        self.tokenizer = tokenizer

    # ----------------------------------------------------------------- encoders
    def extract_feat(self, imgs: Tensor) -> Tuple[Tensor, ...]:
        """Backbone (+ neck) outputs, as mmpretrain models return them.

        Args:
            imgs (Tensor): ``(N, C, H, W)``.

        Returns:
            tuple[Tensor]: The feature maps / vectors.
        """
        feats = self.backbone(imgs)
        if self.neck is not None:
            feats = self.neck(feats)
        if isinstance(feats, Tensor):
            feats = (feats, )
        return tuple(feats)

    def image_features(self, imgs: Tensor) -> Tensor:
        """Pooled image feature ``(N, img_feat_dim)`` (before projection).

        Args:
            imgs (Tensor): ``(N, C, H, W)``.

        Returns:
            Tensor: The pooled feature of the last backbone/neck output.
        """
        x = self.extract_feat(imgs)[-1]
        if x.dim() == 4:
            x = x.mean(dim=(2, 3))
        elif x.dim() != 2:
            raise ValueError(f'the image tower must end in (N, C, H, W) or (N, C) '
                             f'features, got {tuple(x.shape)}')
        if x.shape[1] != self.img_feat_dim:
            raise ValueError(f'the image tower outputs {x.shape[1]} channels but '
                             f'img_feat_dim={self.img_feat_dim}')
        return x

    def encode_image(self, imgs: Tensor) -> Tensor:
        """L2-normalised image embeddings ``(N, embed_dim)``.

        Args:
            imgs (Tensor): Preprocessed images ``(N, C, H, W)``.

        Returns:
            Tensor: The embeddings.
        """
        return F.normalize(self.img_projection(self.image_features(imgs)), dim=-1)

    def encode_text(self, input_ids: Tensor) -> Tensor:
        """L2-normalised text embeddings ``(N, embed_dim)``.

        Args:
            input_ids (Tensor): Padded token ids ``(N, L)``.

        Returns:
            Tensor: The embeddings.
        """
        _, pooled = self.text_encoder(input_ids)
        return F.normalize(self.text_projection(pooled), dim=-1)

    @torch.no_grad()
    def encode_captions(self, texts: Sequence[str]) -> Tensor:
        """Tokenize and embed raw texts (e.g. zero-shot class prompts).

        Args:
            texts (Sequence[str]): The texts.

        Returns:
            Tensor: ``(N, embed_dim)`` embeddings.
        """
        ids = self.tokenizer(list(texts)).to(self.logit_scale.device)
        return self.encode_text(ids)

    def get_logit_scale(self) -> Tensor:
        """``exp(t)`` clamped at :attr:`logit_scale_max`."""
        with torch.no_grad():
            self.logit_scale.clamp_(max=math.log(self.logit_scale_max))
        return self.logit_scale.exp().clamp(max=self.logit_scale_max)

    # ------------------------------------------------------------------ forward
    def forward(self,
                inputs: Dict[str, List[Tensor]],
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor'):
        """Run in ``'loss'``, ``'predict'`` or ``'tensor'`` mode.

        Args:
            inputs (dict): ``imgs``: list of image views ``(N, C, H, W)``; ``texts``:
                list of text views ``(N, L)`` (from :class:`ImageTextDataPreprocessor`).
            data_samples (list, optional): Data samples.
            mode (str): ``'loss'`` -> dict of losses; ``'predict'`` -> data samples with
                ``img_feat`` / ``text_feat`` (first views); ``'tensor'`` -> dict with
                ``img_embeds`` / ``text_embeds`` lists (one tensor per view).

        Returns:
            dict | list: See ``mode``.
        """
        if not isinstance(inputs, dict):
            raise TypeError(f'DeCLIP expects a dict of image/text views, got {type(inputs)}')
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            out = {}
            if inputs.get('imgs'):
                out['img_embeds'] = [self.encode_image(x) for x in inputs['imgs']]
            if inputs.get('texts'):
                out['text_embeds'] = [self.encode_text(x) for x in inputs['texts']]
            return out
        raise RuntimeError(f'Invalid mode "{mode}"; use "loss", "predict" or "tensor"')

    def predict(self, inputs: Dict[str, List[Tensor]],
                data_samples: Optional[List[BaseDataElement]] = None
                ) -> List[BaseDataElement]:
        """Embed the first image view and first text view of each sample.

        Args:
            inputs (dict): See :meth:`forward`.
            data_samples (list, optional): Data samples to fill; created if None.

        Returns:
            list[BaseDataElement]: Samples with ``img_feat`` and/or ``text_feat``.
        """
        feats = {}
        if inputs.get('imgs'):
            feats['img_feat'] = self.encode_image(inputs['imgs'][0])
        if inputs.get('texts'):
            feats['text_feat'] = self.encode_text(inputs['texts'][0])
        if not feats:
            raise ValueError('DeCLIP.predict got neither images nor texts')
        n = next(iter(feats.values())).shape[0]
        if data_samples is None:
            from mmpretrain.structures import DataSample
            data_samples = [DataSample() for _ in range(n)]
        for i, sample in enumerate(data_samples):
            sample.set_data({k: v[i] for k, v in feats.items()})
        return data_samples

    def _check_views(self, imgs: Optional[List[Tensor]],
                     texts: Optional[List[Tensor]]) -> int:
        """Validate the image / text views of a batch and return the batch size."""
        if not imgs or not texts:
            raise ValueError('DeCLIP.loss needs image views and text views')
        n = imgs[0].shape[0]
        if any(x.shape[0] != n for x in list(imgs) + list(texts)):
            raise ValueError('all image and text views must have the same batch size')
        if self.loss_simsiam is not None and len(imgs) < 2:
            raise ValueError('SimSiam needs 2 image views (use MultiView(num_views=2)), '
                             f'got {len(imgs)}')
        return n

    def loss(self, inputs: Dict[str, List[Tensor]],
             data_samples: Optional[List[BaseDataElement]] = None) -> Dict[str, Tensor]:
        """Compute the enabled losses (see class docstring).

        Args:
            inputs (dict): ``imgs`` (list of views) and ``texts`` (list of views).
            data_samples (list, optional): Unused.

        Returns:
            dict[str, Tensor]: Weighted losses and the logged ``logit_scale``.
        """
        imgs, texts = inputs.get('imgs'), inputs.get('texts')
        n = self._check_views(imgs, texts)
        logit_scale = self.get_logit_scale()

        # image tower: all views in one batch
        h = self.image_features(torch.cat(list(imgs), dim=0))
        img_embeds = F.normalize(self.img_projection(h), dim=-1).split(n)

        # text tower: all views (+ the masked copy of view 1 for MLM) in one batch
        length = max(t.shape[1] for t in texts)
        text_views = [F.pad(t, (0, length - t.shape[1]), value=self.tokenizer.pad_token_id)
                      for t in texts]
        batch = list(text_views)
        if self.loss_mlm is not None:
            special = text_views[0] < self.tokenizer.num_special_tokens
            unk = text_views[0] == self.tokenizer.unk_token_id
            maskable = ~special | unk
            masked_ids, mlm_mask = mask_tokens(
                text_views[0], self.tokenizer.mask_token_id, self.text_encoder.vocab_size,
                maskable, self.mlm_mask_prob)
            batch.append(masked_ids)
        ids = torch.cat(batch, dim=0)
        tokens, pooled = self.text_encoder(ids, attention_mask=ids != self.tokenizer.pad_token_id)
        num_views = len(text_views)
        text_embeds = F.normalize(
            self.text_projection(pooled[:num_views * n]), dim=-1).split(n)

        losses = dict()
        if self.loss_clip is not None:
            losses['loss_clip'] = self.loss_clip(img_embeds[0], text_embeds[0], logit_scale)
        if self.loss_multi_view is not None:
            losses['loss_multi_view'] = self.loss_multi_view(img_embeds, text_embeds,
                                                             logit_scale)
        if self.loss_simsiam is not None:
            z = self.simsiam_projector((h, ))[0]
            p = self.simsiam_predictor((z, ))[0]
            z1, z2 = z[:n], z[n:2 * n]
            p1, p2 = p[:n], p[n:2 * n]
            losses['loss_simsiam'] = self.loss_simsiam(p1, p2, z1, z2)
        if self.loss_mlm is not None:
            logits = self.mlm_head(tokens[num_views * n:])
            losses['loss_mlm'] = self.loss_mlm(logits, text_views[0], mlm_mask)
        if self.loss_nn is not None:
            losses['loss_nn'] = self.loss_nn(img_embeds[0], text_embeds[0], logit_scale)
        losses['logit_scale'] = logit_scale.detach()
        return losses
