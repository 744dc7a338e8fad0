"""Chinese (zh-CN): the catalogue matches the rules, every fixture finding is translated, and
the switches (`language:`, `--lang`) work while English stays the default, unchanged."""

from __future__ import annotations

import ast
import json
import logging
import re
import string
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from reviewers import Config, ConfigError, ReviewResult, check_files, load_config
from reviewers.locale import CATALOGUES, Template, catalogue, gettext, note, rule_page, translate_finding
from reviewers.registry import CLASSES, all_rules, get_rule, rule_help
from reviewers.render.github import check_run_payload, plan_comments, review_payload
from reviewers.render.sarif import render_sarif
from reviewers.render.text import render_text
from tests.fixture_support import every_rule_on, fixture_folders, run_folder
from tests.test_cli import goreef

ZH = "zh-CN"
ZH_CN = CATALOGUES / "zh_CN"
CJK = re.compile(r"[\u4e00-\u9fff]")
FENCE = re.compile(r"```[^\n]*\n.*?\n```", re.S)
HEADINGS = re.compile(r"^#+ ", re.M)
ROOT = Path(__file__).parent.parent

LEAK = """package demo

func leak() {
	ch := make(chan int)
	go func() { ch <- 42 }()
}
"""


def _messages() -> dict:
    return yaml.safe_load((ZH_CN / "messages.yml").read_text(encoding="utf-8"))


# -- the catalogue --------------------------------------------------------------------------------
@pytest.mark.parametrize("rule", all_rules(), ids=lambda rule: rule.id)
def test_each_rule_has_a_chinese_page_with_the_same_rule_and_code(rule):
    page = rule_page(rule.id, rule.doc, ZH)
    english = rule.doc.strip()

    assert page.splitlines()[0].startswith(f"{rule.id} {rule.name}: "), "the title line names the same rule"
    assert CJK.search(page.splitlines()[0]) and CJK.search(FENCE.sub("", page))
    assert FENCE.findall(page) == FENCE.findall(english), "the code examples are the English page's"
    assert len(HEADINGS.findall(page)) == len(HEADINGS.findall(english)), "the same sections"


def test_the_catalogue_names_only_rules_that_exist():
    rules = {rule.id for rule in all_rules()}
    pages = {path.stem for path in (ZH_CN / "rules").glob("*.md")}

    assert set(_messages()) <= rules, f"no such rule: {sorted(set(_messages()) - rules)}"
    assert pages == rules, (
        f"pages without a rule: {sorted(pages - rules)}; rules without a page: {sorted(rules - pages)}"
    )


def _placeholders(template: str) -> set[str]:
    return set(re.findall(r"(?<!\{)\{([^{}]+)\}(?!\})", template.replace("{{", "").replace("}}", "")))


def test_each_chinese_template_uses_only_its_english_placeholders():
    interface = yaml.safe_load((ZH_CN / "interface.yml").read_text(encoding="utf-8"))
    entries = [
        entry for rule in _messages().values() for kind in ("messages", "phrases") for entry in rule.get(kind) or ()
    ]
    entries += [*interface["notes"], *interface["phrases"]]
    for entry in entries:
        english = _placeholders(entry["en"])
        assert _placeholders(entry["zh"]) <= english, entry["en"]
        assert set(entry.get("verbatim", ())) <= english, entry["en"]


def _gettext_templates() -> set[str]:
    """Every literal template the code hands to `gettext`."""
    templates = set()
    for folder in ("reviewers", "appcore", "webapp", "workers"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "gettext" and len(node.args) > 1:
                    template = node.args[1]
                    if isinstance(template, ast.Constant):  # else a word of a fixed set: WORDS
                        templates.add(template.value)
    return templates


# The words looked up by value: severities, rule classes, the web app's table headings.
WORDS = ("error", "warning", "info", *CLASSES.values(), "Rule", "Name", "Severity", "Class")


def test_every_text_the_renderers_write_has_its_chinese_with_the_same_fields():
    texts = catalogue(ZH).texts
    templates = _gettext_templates() | set(WORDS)
    assert {"No Go traps found", "{count} Go trap{s} found ({detail})", "**Fix**"} <= templates

    for template in templates:
        assert template in texts, f"no Chinese for {template!r}"
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        translated = {name for _, name, _, _ in string.Formatter().parse(texts[template]) if name}
        assert translated <= fields and fields - translated <= {"s", "files_s"}, template


# -- findings -------------------------------------------------------------------------------------
@pytest.mark.parametrize("folder", fixture_folders(), ids=lambda folder: str(folder.relative_to(folder.parents[1])))
def test_every_fixture_finding_is_translated(folder, caplog):
    english = run_folder(folder, every_rule_on())
    with caplog.at_level(logging.WARNING, logger="reviewers.locale"):
        chinese = run_folder(folder, replace(every_rule_on(), language=ZH))

    assert not caplog.records, "\n".join(record.getMessage() for record in caplog.records)
    assert [(f.rule, f.line, f.fingerprint, f.suggestion) for f in chinese] == [
        (f.rule, f.line, f.fingerprint, f.suggestion) for f in english
    ], "the language changes the words, never what is found"
    for finding in chinese:
        assert CJK.search(finding.message), finding.message
        assert CJK.search(finding.remediation), finding.remediation


def test_a_message_with_no_translation_stays_english_and_is_logged(caplog):
    finding = run_folder(fixture_folders()[0], every_rule_on())[0]
    changed = replace(finding, message="A wording the catalogue has not caught up with.")

    with caplog.at_level(logging.WARNING, logger="reviewers.locale"):
        translated = translate_finding(changed, ZH)

    assert translated.message == changed.message
    assert CJK.search(translated.remediation), "the remediation is still translated"
    assert [r.levelname for r in caplog.records] == ["WARNING"] and finding.rule in caplog.text


def test_a_message_no_template_fits_is_given_up_after_few_tries(monkeypatch):
    """A GR117 message close to several templates but fitting none: each prose piece is
    translated once, and no way of splitting it is tried twice (without that, this took
    minutes). The tries are counted, not timed."""
    book = catalogue(ZH)
    message = (
        "`r.sweeper.nudge()` sends on `sw.nudges <- struct{}{}` (in `Sweeper.nudge`, line 42) while `r.mu` is "
        "held (locked on line 66), and the loop that drains that channel, `Sweeper.loop`, takes `r.mu` too: "
        "the buffer only delays it. Release the lock before sending."
    )
    tries = 0
    match = Template.match

    def counted(self, text, translate):
        nonlocal tries
        tries += 1
        if tries > 20_000:
            raise AssertionError("the matcher keeps trying")
        return match(self, text, translate)

    monkeypatch.setattr(Template, "match", counted)

    assert book.message("GR117", message) is None
    assert tries < 10_000


def test_placeholders_keep_the_code_and_translate_the_prose():
    book = catalogue(ZH)
    message = (
        "This send on unbuffered `results` (made at line 7) blocks forever when the function returns at line 9 "
        "before receiving at line 12: the goroutine leaks. Use `make(chan error, 1)`, or select on `ctx.Done()` "
        "in the sender."
    )

    translated = book.message("GR101", message)

    assert translated is not None
    assert "`results`" in translated and "`make(chan error, 1)`" in translated
    assert "第 12 行接收之前，已在第 9 行返回" in translated
    assert book.message("GR101", message.replace("the function returns", "the function leaves")) is None
    # Several placeholders in a row bind where their phrases fit, not at the first comma.
    fields = book.message(
        "GR209",
        "Fields `parent`, `child` of `Job` store a context.Context: it outlives the call it belongs to. "
        "Pass the context as the first parameter of each method instead.",
    )
    assert fields is not None and fields.startswith("`Job` 的字段 `parent`, `child` 保存了 context.Context")


def test_engine_notes_are_translated():
    assert note("a.go: skipped, generated code (`// Code generated ... DO NOT EDIT.`)", ZH) == (
        "a.go：已跳过，这是生成的代码（`// Code generated ... DO NOT EDIT.`）"
    )
    assert note("b.go: skipped, GitHub's files list gives no patch for it, and its blobs were not read", ZH).endswith(
        "也没有读取它的 blob"
    )
    assert note(
        "c.go: does not parse cleanly (lines 4, 9-12, which the rules read as best they can); findings there may be incomplete",
        ZH,
    ) == ("c.go：无法完整解析（第 4, 9-12 行，规则已尽量读取），其中的问题可能报告不全")
    assert (
        note("the diff read from standard input is empty: nothing to review", ZH)
        == "从标准输入读取的 diff 为空：没有可审查的内容"
    )
    unread = (
        "3 file(s) could not be read from GitHub before the review had to finish; only the diff of the changed "
        "ones was reviewed: a.go; the unchanged ones (other files of the packages, go.mod) were left out: b.go, go.mod"
    )
    assert note(unread, ZH) == (
        "有 3 个文件未能在审查必须结束之前从 GitHub 读取：有改动的文件只审查了其 diff：a.go；"
        "未改动的文件（包中的其他文件、go.mod）被略过：b.go, go.mod"
    )


# -- the switches ---------------------------------------------------------------------------------
def test_language_in_the_configuration():
    assert load_config("fail_on: error").language == "en"
    assert load_config("language: zh-CN").language == ZH
    assert load_config("language: zh_cn").language == ZH
    with pytest.raises(ConfigError, match=r"^language: 'fr' is not a supported language: en, zh-CN$"):
        load_config("language: fr")


@pytest.fixture
def module(tmp_path):
    (tmp_path / "go.mod").write_text("module demo\n\ngo 1.22\n")
    (tmp_path / "leak.go").write_text(LEAK)
    return tmp_path


def test_lang_on_the_command_line_and_its_errors(module):
    chinese = goreef("check", ".", "--lang", "zh-CN", cwd=module)
    unknown = goreef("check", ".", "--lang", "fr", cwd=module)

    assert chinese.returncode == 1 and "GR101 [错误] 向无缓冲 channel `ch`" in chinese.stdout
    assert "  修复：" in chinese.stdout and "在 1 个 Go 文件中发现 1 个陷阱（1 个错误）" in chinese.stdout
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr == "goreef: --lang: 'fr' is not a supported language: en, zh-CN\n"


def test_the_configuration_chooses_the_language_and_lang_overrides_it(module):
    (module / "goreef.yml").write_text("language: zh-CN\n")
    (module / "bad.yml").write_text("language: klingon\n")

    configured = goreef("check", ".", "--config", "goreef.yml", "--format", "json", cwd=module)
    overridden = goreef("check", ".", "--config", "goreef.yml", "--lang", "en", "--format", "json", cwd=module)
    default = goreef("check", ".", "--format", "json", cwd=module)
    bad = goreef("check", ".", "--config", "bad.yml", cwd=module)

    assert CJK.search(json.loads(configured.stdout)[0]["message"])
    assert list(json.loads(configured.stdout)[0]) == list(json.loads(default.stdout)[0]), "same fields"
    assert overridden.stdout == default.stdout and not CJK.search(default.stdout)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "language: 'klingon'" in bad.stderr


def test_default_output_is_the_rules_own_english(module):
    result = check_files([("leak.go", (module / "leak.go").read_bytes)], config=Config())
    sarif = json.loads(render_sarif(result))["runs"][0]

    assert result.findings and result.findings[0].message.startswith("This send on unbuffered `ch`")
    assert all(translate_finding(finding, "en") is finding for finding in result.findings)
    # The page `goreef rules GRNNN` prints: the rule's own docstring under its heading line.
    assert [rule["help"]["markdown"] for rule in sarif["tool"]["driver"]["rules"]] == [
        rule_help(rule) for rule in all_rules()
    ]
    assert all(rule.doc.strip() in rule_help(rule) for rule in all_rules())
    assert sarif["results"][0]["message"]["text"] == result.findings[0].message
    for render in (render_text(result), json.dumps(check_run_payload(result, Config()), ensure_ascii=False)):
        assert not CJK.search(render)


def _zh_result(module: Path) -> tuple[ReviewResult, Config]:
    config = Config(language=ZH)
    return check_files([("leak.go", (module / "leak.go").read_bytes)], config=config), config


def test_check_run_and_review_are_chinese_in_zh_cn(module):
    from reviewers.diffs import parse_diff

    result, config = _zh_result(module)
    diff = "--- /dev/null\n+++ b/leak.go\n@@ -0,0 +1,6 @@\n" + "".join(f"+{line}\n" for line in LEAK.splitlines())
    plan = plan_comments(result.findings, parse_diff(diff), "https://goreef.example/rules", 30, language=ZH)

    output = check_run_payload(result, config, "https://goreef.example/rules", plan)["output"]
    review = review_payload(plan)

    assert output["title"] == "发现 1 个 Go 陷阱（1 个错误）"
    assert output["summary"].startswith("goreef 审查了 1 个有改动的 Go 文件。\n\n| 类别 | 规则 | 严重程度 | 数量 |")
    assert (
        "| goroutine 泄漏 | [GR101 abandoned-sender](https://goreef.example/rules/GR101?lang=zh-CN) | 错误 | 1 |"
        in (output["summary"])
    )
    assert "这些问题使本次检查失败（`fail_on: error`）。" in output["summary"]
    assert review is not None and review["body"].startswith("goreef 在本次推送中发现 1 个新的 Go 陷阱。")
    body = review["comments"][0]["body"]
    assert "(错误): 向无缓冲 channel" in body and "**修复方式**" in body and "// 为唯一的结果留出一个缓冲位" in body


def test_sarif_in_zh_cn_carries_the_chinese_messages_and_rule_pages(module):
    result, _ = _zh_result(module)
    log = json.loads(render_sarif(result, "https://goreef.example/rules", language=ZH))
    run = log["runs"][0]
    gr101 = next(rule for rule in run["tool"]["driver"]["rules"] if rule["id"] == "GR101")

    assert CJK.search(run["results"][0]["message"]["text"])
    # `goreef rules GR101 --lang zh-CN`: the Chinese page under its Chinese heading line.
    assert gr101["help"]["markdown"] == rule_help(get_rule("GR101"), ZH)
    assert (
        rule_page("GR101", "", ZH) in gr101["help"]["markdown"]
        and "(错误, goroutine 泄漏)" in gr101["help"]["markdown"]
    )
    assert CJK.search(gr101["shortDescription"]["text"]) and gr101["helpUri"].endswith("/GR101?lang=zh-CN")


def test_rules_command_prints_the_chinese_page(module):
    page = goreef("rules", "GR203", "--lang", "zh-CN", cwd=module)
    listing = goreef("rules", "--lang", "zh-CN", cwd=module)

    assert page.returncode == 0 and page.stdout.startswith("GR203 cancel-discarded (错误, context 取消失效)\n\n")
    assert "## 为什么这是问题？" in page.stdout
    assert re.search(r"^GR203  error    cancel-discarded +派生 context 的 cancel 函数", listing.stdout, re.M)


def test_renderer_texts_in_english_are_the_templates_filled_in():
    assert gettext("en", "{count} Go trap{s} found ({detail})", count=2, s="s", detail="2 errors") == (
        "2 Go traps found (2 errors)"
    )
