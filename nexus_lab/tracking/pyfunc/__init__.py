"""The pyfunc wrappers MLflow runs when it loads a registered model (models from code).

Each file is logged with its model and runs on loading, so it imports only public
names: a model logged today must load under later versions of the package.
"""
