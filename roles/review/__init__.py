"""The experts' review: its policy, tally and blind views (role functions: ``roles.expert``)."""
