"""TextTransformer: shapes, padding invariance, pooling modes."""
import pytest
import torch

from intern_mm.models.upstream import TextTransformer


@pytest.mark.parametrize('pooling', ['first', 'eot', 'mean'])
def test_shapes_and_padding_invariance(pooling):
    torch.manual_seed(0)
    enc = TextTransformer(vocab_size=20, context_length=10, width=16, depth=2, num_heads=2,
                          pooling=pooling)
    enc.init_weights()
    enc.eval()
    ids = torch.tensor([[2, 7, 8, 3]])
    padded = torch.tensor([[2, 7, 8, 3, 0, 0, 0]])
    tokens, pooled = enc(ids)
    tokens_p, pooled_p = enc(padded)
    assert tokens.shape == (1, 4, 16) and pooled.shape == (1, 16)
    # padding is masked out of attention: real-token features do not change
    torch.testing.assert_close(pooled, pooled_p, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(tokens, tokens_p[:, :4], atol=1e-5, rtol=1e-5)


def test_bidirectional_attention():
    torch.manual_seed(0)
    enc = TextTransformer(vocab_size=20, context_length=8, width=16, depth=1, num_heads=2)
    enc.init_weights()
    enc.eval()
    a, _ = enc(torch.tensor([[2, 7, 8, 3]]))
    b, _ = enc(torch.tensor([[2, 7, 9, 3]]))
    # changing a later token changes the first token's feature (not causal)
    assert not torch.allclose(a[:, 0], b[:, 0])


def test_errors():
    with pytest.raises(ValueError, match='pooling'):
        TextTransformer(vocab_size=5, pooling='max')
    with pytest.raises(ValueError, match='divisible'):
        TextTransformer(vocab_size=5, width=10, num_heads=3)
    enc = TextTransformer(vocab_size=5, context_length=4, width=8, depth=1, num_heads=2)
    with pytest.raises(ValueError, match='context_length'):
        enc(torch.zeros(1, 5, dtype=torch.long))
