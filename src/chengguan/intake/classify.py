"""Free Chinese text → is it city-management work (or another department's), and which 小类.

The contract every classifier keeps: ``classify(text)`` returns a ``Classification`` (or None when no model is
available). Reports whose category nobody chose go to a person (triage) when the answer is not confident.

The method: jieba words plus character 2–3-grams, TF-IDF, and linear SVMs whose scores are turned into
probabilities by Platt (sigmoid) calibration on 5 folds (scikit-learn's ``CalibratedClassifierCV``). Two
decisions: a *department* model (城管, or one of the departments 12345 routes work orders to) and a *小类*
model trained on city-management texts only. The confidence of a city-management answer is the joint
probability P(城管) · P(小类 | 城管); of a forward, P(department). Below the configured threshold
(``CHENGGUAN_CLASSIFY_MIN_CONFIDENCE``) a person decides.

The shipped model is trained, when first needed, from the package's own texts (``intake/data/
classifier_training.yaml``, how they were made is written at its top) and the catalog's wording: nothing is
downloaded and nothing is pickled; training takes a few seconds once per process. ``bench/classify.py``
measures it on real messages; docs/intake.md reports the figures.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import yaml

from chengguan.config import get_settings

CITY = "城管"  # the department label of city-management work
MODEL_NAME = "jieba+char-tfidf/linear-svm/sigmoid-v1"
MAX_CHARS = 4000  # longer texts are cut: the cost of a classification stays bounded
TOP = 3  # alternatives kept in the result for the desk
TERMS = 6  # words shown as the reasons of a decision
# Readable names of the departments 12345 routes work orders to (the labels are the message board's).
DEPARTMENT_NAMES = {
    CITY: "城市管理（城管执法）",
    "劳动和社会保障": "人力资源和社会保障部门",
    "教育文体": "教育和文化体育部门",
    "卫生计生": "卫生健康部门",
    "交通运输": "交通运输部门",
    "商贸旅游": "商务和文化旅游、市场监管部门",
    "城乡建设": "住房和城乡建设部门（物业、房屋、拆迁、规划、公用事业）",
    "环境保护": "生态环境部门",
}


@dataclass(frozen=True)
class Classification:
    city_management: bool
    department: str | None  # the department when it is not city management
    category_code: str | None  # the catalog's 小类 (the best guess, also when not confident)
    confidence: float  # of the decision that matters: P(城管)·P(小类), or P(department)
    confident: bool  # above the threshold that lets it pass without a person
    model: str
    # why: for the desk that decides when the model is not sure
    category_name: str | None = None
    p_city_management: float = 0.0
    threshold: float = 0.0
    departments: dict[str, float] = field(default_factory=dict)  # the likeliest departments, P
    categories: dict[str, float] = field(default_factory=dict)  # the likeliest 小类, P(小类 | 城管)
    terms: list[str] = field(default_factory=list)  # the words that weighed most for the decision

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# ---- training texts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    text: str
    department: str  # CITY or another department
    category: str | None = None  # the 小类 when department == CITY


def _yaml(package: str, path: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(resources.files(package).joinpath(path).read_text(encoding="utf-8"))
    return data


def catalog_minors() -> dict[str, dict[str, str]]:
    """The default catalog's 小类: code → name, filing and closing criteria (read from the seed file)."""
    data = _yaml("chengguan.catalog", "data/default_catalog.yaml")
    return {
        str(minor["code"]): {
            "name": str(minor["name"]),
            "filing": str(minor.get("filing_criteria") or ""),
            "closing": str(minor.get("closing_criteria") or ""),
        }
        for major in data["majors"]
        for minor in major["minors"]
    }


def training_examples() -> list[Example]:
    """The shipped training set: the hand-written lines, each also framed twice with a place and a request (the
    same frames for every label), plus each 小类's catalog name and criteria."""
    data = _yaml("chengguan.intake", "data/classifier_training.yaml")
    frames = data["frames"]
    openings, places, requests = frames["openings"], frames["places"], frames["requests"]
    labelled: list[tuple[str, str, str | None]] = [
        (str(line), CITY, str(code)) for code, lines in data["city_management"].items() for line in lines
    ]
    labelled += [(str(line), str(dept), None) for dept, lines in data["departments"].items() for line in lines]
    out: list[Example] = []
    for i, (line, dept, code) in enumerate(labelled):
        out.append(Example(line, dept, code))
        out.append(Example(f"{places[i % len(places)]}{line}，{requests[(i * 5) % len(requests)]}", dept, code))
        framed = f"{openings[(i * 3) % len(openings)]}{places[(i * 7 + 3) % len(places)]}{line}。"
        out.append(Example(framed + requests[(i * 11 + 2) % len(requests)], dept, code))
    for code, minor in catalog_minors().items():
        for text in (minor["name"], minor["filing"], minor["closing"]):
            if text:
                out.append(Example(text, CITY, code))
    return out


def _jieba_words() -> list[str]:
    data = _yaml("chengguan.intake", "data/classifier_training.yaml")
    return [str(w) for w in data.get("words", [])] + [m["name"] for m in catalog_minors().values()]


# ---- the method ----------------------------------------------------------------------------------------

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
_STOP = frozenset(
    [
        "的",
        "了",
        "是",
        "在",
        "有",
        "我",
        "和",
        "与",
        "也",
        "都",
        "就",
        "又",
        "还",
        "把",
        "被",
        "让",
        "给",
        "对",
        "着",
        "很",
        "这",
        "那",
        "一",
        "个",
        "不",
        "们",
        "您",
        "你",
        "他",
        "她",
        "它",
        "吗",
        "呢",
        "啊",
        "吧",
    ]
)


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), lower case, cut to MAX_CHARS."""
    return unicodedata.normalize("NFKC", text)[:MAX_CHARS].lower()


class Classifier:
    """The method, trainable on any labelled texts (the shipped set, or real messages in bench/classify.py)."""

    def __init__(self, *, extra_words: Sequence[str] = (), folds: int = 5, c: float = 0.5) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._tokenizer = jieba.Tokenizer()
        for word in extra_words:
            self._tokenizer.add_word(word)
        self.folds, self.c = folds, c
        self._fitted = False

    def words(self, text: str) -> list[str]:
        return [w for w in self._tokenizer.lcut(text) if w not in _STOP and not _PUNCT.fullmatch(w)]

    def _chars(self, text: str) -> list[str]:
        s = _PUNCT.sub(" ", text)
        return [s[i : i + n] for n in (2, 3) for i in range(len(s) - n + 1) if " " not in s[i : i + n]]

    def _vectorizer(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        return FeatureUnion(
            [
                ("w", TfidfVectorizer(analyzer=self.words, sublinear_tf=True)),
                ("c", TfidfVectorizer(analyzer=self._chars, sublinear_tf=True, min_df=2)),
            ]
        )

    def _model(self, labels: Sequence[str]) -> Any:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import LinearSVC

        smallest = min(Counter(labels).values())
        if smallest < 2:
            raise ValueError("every label needs at least two training texts (the calibration holds some out)")
        svm = LinearSVC(C=self.c, class_weight="balanced", max_iter=10_000)
        return CalibratedClassifierCV(svm, method="sigmoid", cv=max(2, min(self.folds, smallest)), ensemble=False)

    def fit(self, texts: Sequence[str], departments: Sequence[str], categories: Sequence[str | None]) -> Classifier:
        """Train both decisions: the department of every text, the 小类 of the city-management ones."""
        docs = [normalise(t) for t in texts]
        self.vectorizer = self._vectorizer()
        x = self.vectorizer.fit_transform(docs)
        # one department only (e.g. 小类 alone, as bench/classify.py measures it): every text is that one
        self.dept = self._model(list(departments)).fit(x, list(departments)) if len(set(departments)) > 1 else None
        self.only_department = None if self.dept is not None else departments[0]
        # the 小类 model learns from the city-management texts that carry a 小类 (none: routing only)
        city = [i for i, d in enumerate(departments) if d == CITY and categories[i] is not None]
        cats = [str(categories[i]) for i in city]
        self.minor = self._model(cats).fit(x[city], cats) if len(set(cats)) > 1 else None
        names = self.vectorizer.get_feature_names_out()
        self.feature_names = [n.split("__", 1)[1] for n in names]
        self._is_word = np.array([n.startswith("w__") for n in names])
        self._fitted = True
        return self

    @staticmethod
    def _mean_coef(model: Any) -> Any:
        return np.mean([c.estimator.coef_ for c in model.calibrated_classifiers_], axis=0)

    def _reasons(self, model: Any, row: Any, label: str) -> list[str]:
        """The words (jieba, two or more characters) of the text that pushed most towards ``label``; character
        n-grams weigh too, but are not shown: alone they read as noise to a person."""
        k = list(model.classes_).index(label)
        if id(model) not in self._coef_cache:
            self._coef_cache[id(model)] = self._mean_coef(model)
        weights = self._coef_cache[id(model)]
        # two labels: one weight row, positive towards the second label
        coef = (weights[0] if k == 1 else -weights[0]) if weights.shape[0] == 1 else weights[k]
        idx, vals = row.indices, row.data * coef[row.indices]
        terms: list[str] = []
        for j in np.argsort(-vals, kind="stable"):
            term = self.feature_names[idx[j]]
            if vals[j] <= 0 or len(terms) >= TERMS:
                break
            if self._is_word[idx[j]] and len(term) >= 2:
                terms.append(term)
        return terms

    def predict(self, texts: Sequence[str], *, threshold: float) -> list[Classification]:
        assert self._fitted, "fit() first"
        if not hasattr(self, "_coef_cache"):
            self._coef_cache: dict[int, Any] = {}
        x = self.vectorizer.transform([normalise(t) for t in texts])
        if self.dept is not None:
            p_dept, depts = self.dept.predict_proba(x), list(self.dept.classes_)
        else:
            p_dept, depts = np.ones((x.shape[0], 1)), [self.only_department]
        p_minor = self.minor.predict_proba(x) if self.minor is not None else None
        minors = list(self.minor.classes_) if self.minor is not None else []
        names = _minor_names()
        out = []
        for i in range(x.shape[0]):
            pd = p_dept[i] / p_dept[i].sum()
            ranked = sorted(zip(depts, pd, strict=True), key=lambda t: -t[1])
            p_city = float(pd[depts.index(CITY)]) if CITY in depts else 0.0
            best_dept = ranked[0][0]
            categories: dict[str, float] = {}
            code = None
            if p_minor is not None:
                pm = p_minor[i] / p_minor[i].sum()
                top = sorted(zip(minors, pm, strict=True), key=lambda t: -t[1])[:TOP]
                categories = {str(c): round(float(p), 4) for c, p in top}
                code = str(top[0][0])
            row = x[i]
            if best_dept == CITY:
                confidence = p_city * (categories[code] if code else 1.0)  # no 小类 model: routing only
                terms = self._reasons(self.minor, row, code) if code and self.minor is not None else []
                if not terms and self.dept is not None:
                    terms = self._reasons(self.dept, row, CITY)
            else:
                confidence = float(ranked[0][1])
                terms = self._reasons(self.dept, row, best_dept) if self.dept is not None else []
            out.append(
                Classification(
                    city_management=best_dept == CITY,
                    department=None if best_dept == CITY else best_dept,
                    category_code=code if best_dept == CITY else None,
                    confidence=round(confidence, 4),
                    confident=confidence >= threshold,
                    model=MODEL_NAME,
                    category_name=names.get(code or "") if best_dept == CITY else None,
                    p_city_management=round(p_city, 4),
                    threshold=threshold,
                    departments={str(d): round(float(p), 4) for d, p in ranked[:TOP]},
                    categories=categories,
                    terms=terms,
                )
            )
        return out


# ---- the shipped model ---------------------------------------------------------------------------------

_lock = threading.Lock()
_shipped: Classifier | None = None
_names: dict[str, str] | None = None


def _minor_names() -> dict[str, str]:
    global _names
    if _names is None:
        _names = {code: m["name"] for code, m in catalog_minors().items()}
    return _names


def category_names() -> dict[str, str]:
    """The default catalog's 小类 names by code (for showing the classifier's guesses)."""
    return dict(_minor_names())


def shipped() -> Classifier:
    """The model trained on the package's own texts; trained once per process, on first use."""
    global _shipped
    if _shipped is None:
        with _lock:
            if _shipped is None:
                examples = training_examples()
                _shipped = Classifier(extra_words=_jieba_words()).fit(
                    [e.text for e in examples], [e.department for e in examples], [e.category for e in examples]
                )
    return _shipped


def warm_up() -> None:
    """Train the shipped model now (e.g. in a background thread at start-up) rather than on the first report."""
    shipped()


def classify(text: str, *, threshold: float | None = None) -> Classification | None:
    """Classify one report's text with the shipped model; None when there is nothing to read."""
    if not text or not text.strip():
        return None
    limit = get_settings().classify_min_confidence if threshold is None else threshold
    return shipped().predict([text], threshold=limit)[0]
