# The demo GAN config (./gan_mask_rcnn_r18_fpn_demo.py) with both players of
# GAN Mask R-CNN: the box discriminator added to the mask discriminator, at
# the demo's size (each box pooled from its own FPN level, 16 positives,
# 16-channel discriminator). The real-data benchmark
# (./gan_mask_rcnn_r18_fpn_nuclei.py) and the Cascade and Mask Scoring R-CNN
# demos play this game.
# Measured (README, segm AP over the baseline): on the demo data (3 seeds)
# +0.028, against +0.036 for the mask player alone (the demo default); on
# the nuclei (5 seeds) +0.029, against +0.016. Cost (benchmark_train.py
# --same-work, demo data): 1.09-1.11x the baseline's CPU time per
# iteration and 1.09x its memory.
_base_ = './gan_mask_rcnn_r18_fpn_demo.py'

model = dict(
    roi_head=dict(
        adv_box_roi_extractor=dict(
            type='RegistrySingleRoIExtractor',
            roi_layer=dict(type='PrRoIPool', output_size=28),
            out_channels=128,
            featmap_strides=[4, 8, 16, 32])),
    discriminator=dict(box=dict(type='BoxDiscriminator', base_channels=16)),
    # w_b = 0.025 (reference)
    loss_adv=dict(
        box=dict(type='GANLoss', gan_type='vanilla', loss_weight=0.025)))
