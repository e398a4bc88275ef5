"""The names of the two players of the GAN game, defined once."""

#: The detector being trained (every module but the discriminators).
GENERATOR = 'generator'
#: The discriminators (``model.discriminator``).
DISCRIMINATOR = 'discriminator'
#: Both, in the order of an ``OptimWrapperDict``'s keys.
PLAYERS = (GENERATOR, DISCRIMINATOR)
