import torch

from pipeline.recognize.lenet5 import C3_TABLE, LeNet5, c3_connection_mask, count_parameters


def test_layer_shapes_follow_the_1998_topology():
    model = LeNet5().eval()
    x = torch.zeros(3, 1, 32, 32)
    c1 = model.c1(x)
    assert c1.shape == (3, 6, 28, 28)
    s2 = torch.nn.functional.max_pool2d(c1, 2)
    assert s2.shape == (3, 6, 14, 14)
    c3 = model.c3(s2)
    assert c3.shape == (3, 16, 10, 10)
    s4 = torch.nn.functional.max_pool2d(c3, 2)
    assert s4.shape == (3, 16, 5, 5)
    assert model.c5(s4).shape == (3, 120, 1, 1)
    assert model.f6.out_features == 84
    assert model(x).shape == (3, 10)


def test_parameter_count_counts_only_table_connections():
    # C1 156 + C3 (60 connections x 25 + 16) + C5 48,120 + F6 10,164 + output 850
    assert count_parameters(LeNet5()) == 156 + 1516 + 48120 + 10164 + 850 == 60806


def test_c3_table_is_the_papers():
    assert len(C3_TABLE) == 16
    assert [len(t) for t in C3_TABLE] == [3] * 6 + [4] * 9 + [6]
    assert sum(len(t) for t in C3_TABLE) == 60
    # contiguous groups of three and four, then the three discontinuous ones, then all six
    assert C3_TABLE[0] == (0, 1, 2) and C3_TABLE[5] == (5, 0, 1)
    assert C3_TABLE[6] == (0, 1, 2, 3) and C3_TABLE[11] == (5, 0, 1, 2)
    assert C3_TABLE[12:15] == ((0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5))
    mask = c3_connection_mask()
    assert mask.sum() == 60 and mask[15].sum() == 6 and mask.sum(0).tolist() == [10] * 6


def test_masked_connections_have_no_effect_and_stay_zero_after_training_step():
    torch.manual_seed(0)
    model = LeNet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    loss = torch.nn.functional.cross_entropy(model(torch.rand(8, 1, 32, 32)), torch.arange(8))
    loss.backward()
    off = c3_connection_mask() == 0
    assert torch.all(model.c3.weight.grad[off] == 0)
    optimizer.step()
    assert torch.all(model.c3.weight[off] == 0)
    # changing a masked-off input map must not change a C3 map that does not read it
    x = torch.rand(1, 6, 14, 14)
    y = x.clone()
    y[0, 3] += 5.0  # map 3 is not an input of C3 map 0 (0, 1, 2)
    assert torch.allclose(model.c3(x)[0, 0], model.c3(y)[0, 0])


def test_frozen_model_gives_the_same_outputs():
    """Folding batch-norm and the C3 mask into the weights changes nothing in eval mode."""
    torch.manual_seed(1)
    model = LeNet5().train()
    for _ in range(5):
        model(torch.rand(64, 1, 32, 32) * 2)  # gather non-trivial running statistics
    model.eval()
    x = torch.rand(4, 1, 32, 32)
    before = model(x)
    model.freeze_for_inference()
    assert not any(name.startswith("bn") for name, _ in model.named_parameters())
    assert torch.allclose(before, model(x), atol=1e-5)
