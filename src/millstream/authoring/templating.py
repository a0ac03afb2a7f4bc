"""Jinja rendering of an operator's template_fields with the run's context."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from millstream.authoring.xcom_arg import ResolvableArg
from millstream.exceptions import TemplateRenderError

if TYPE_CHECKING:
    import jinja2

    from millstream.authoring.dag import DAG
    from millstream.authoring.task import BaseOperator


def template_environment(dag: DAG | None) -> jinja2.Environment:
    """The DAG's Jinja environment: StrictUndefined, its search path, macros and filters."""
    import jinja2

    cached = getattr(dag, "_jinja_env", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    searchpath: list[str] = []
    if dag is not None:
        if dag.fileloc:
            searchpath.append(os.path.dirname(os.path.abspath(dag.fileloc)))
        searchpath.extend(dag.template_searchpath)
    options: dict[str, Any] = {
        "loader": jinja2.FileSystemLoader(searchpath),
        "undefined": jinja2.StrictUndefined,
        "keep_trailing_newline": True,
        "autoescape": False,  # renders shell commands and SQL, not HTML
    }
    environment_class: type[jinja2.Environment] = jinja2.Environment
    if dag is not None:
        if getattr(dag, "template_undefined", None) is not None:
            options["undefined"] = dag.template_undefined
        options.update(getattr(dag, "jinja_environment_kwargs", {}))
        if getattr(dag, "render_template_as_native_obj", False):
            import jinja2.nativetypes

            environment_class = jinja2.nativetypes.NativeEnvironment
    env = environment_class(**options)
    if dag is not None:
        env.globals.update(dag.user_defined_macros)
        env.filters.update(dag.user_defined_filters)
        dag._jinja_env = env  # type: ignore[attr-defined]
    return env


def render_value(
    value: Any,
    context: dict[str, Any],
    env: jinja2.Environment,
    template_ext: tuple[str, ...] = (),
) -> Any:
    """Render every string nested in ``value``; run-time placeholders are resolved, not rendered."""
    if isinstance(value, ResolvableArg):
        return value.resolve(context)
    if isinstance(value, str):
        # exact suffix, as in Airflow: "run.sh " (trailing space) is a command, not a file
        if template_ext and value.endswith(template_ext):
            return env.get_template(value).render(context)
        if "{{" not in value and "{%" not in value:
            return value
        return env.from_string(value).render(context)
    if isinstance(value, list):
        return [render_value(v, context, env, template_ext) for v in value]
    if isinstance(value, tuple):
        return tuple(render_value(v, context, env, template_ext) for v in value)
    if isinstance(value, dict):
        return {k: render_value(v, context, env, template_ext) for k, v in value.items()}
    return value


def render_template_fields(task: BaseOperator, context: dict[str, Any]) -> None:
    """Render each of ``task.template_fields`` in place; errors name the task and field."""
    import jinja2

    env = template_environment(task.dag)
    extensions = tuple(task.template_ext)
    for field in task.template_fields:
        value = getattr(task, field, None)
        try:
            rendered = render_value(value, context, env, extensions)
        except jinja2.TemplateNotFound as exc:
            raise TemplateRenderError(
                f"task {task.task_id!r}: template file {exc.name!r} for field {field!r} "
                "was not found in the DAG folder or template_searchpath"
            ) from exc
        except jinja2.TemplateError as exc:
            raise TemplateRenderError(
                f"task {task.task_id!r}: cannot render template field {field!r}: {exc}"
            ) from exc
        setattr(task, field, rendered)
