"""LeNet-5: the network, its training, calibration and batched inference."""
