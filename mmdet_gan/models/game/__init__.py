from .adversarial_game import AdversarialGame, check_optim_wrapper, frozen

__all__ = ['AdversarialGame', 'check_optim_wrapper', 'frozen']
