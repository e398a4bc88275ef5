# GAN Mask R-CNN, ResNet-50 + FPN, 1x schedule, COCO, with the adversarial
# branch capped at 16 positives per batch and discriminator (drawn at random
# among the RoI head's sampled positives; all of them when fewer). The
# reference branch otherwise: both players, P2-P5 max-fused 28x28
# prRoIPool, 64-channel discriminators.
# Cost at COCO size on CPU (docs/benchmarks.md, session 13, same work):
# 1.03x the baseline's time and 1.01x its memory, against 1.14x and 1.01x
# with all positives (118 per discriminator there). 16 per batch is what the
# demo and nuclei configs use; the COCO accuracy is not measured (no GPU).
_base_ = './gan_mask_rcnn_r50_fpn_1x_coco.py'

model = dict(roi_head=dict(num_adv_samples=16))
