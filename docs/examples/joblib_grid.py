"""scikit-learn's GridSearchCV, its fits run as Clustrix jobs through the joblib backend."""

from joblib import parallel_config
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC

import clustrix.joblib  # noqa: F401  (registers the joblib backend "clustrix")

if __name__ == "__main__":
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(SVC(), {"C": [0.1, 1, 10], "gamma": [0.01, 0.1]}, cv=3, n_jobs=-1)
    with parallel_config(backend="clustrix", memory="512MB", time="00:10:00"):
        search.fit(X, y)  # the 18 fits go in one job: one array on a scheduler
    print("best parameters:", search.best_params_)
    print(f"best cross-validated accuracy: {search.best_score_:.3f}")
