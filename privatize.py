"""Make the built module's internal names private, so ShadowBot's 调用模块 picker (which lists
every public function of a module) shows only what users call: the names in __all__.

    text = privatize(text, public=__all__, keep=header_names)

Every module-level name that is not public, not a dunder, not bound by an import and not in
`keep` is renamed `name` -> `_name` wherever it refers to the module-level binding. Which
occurrence refers to it is decided by scope analysis on the `ast` (a parameter, a local
variable, a comprehension variable or a class attribute that shadows a top-level name is
left alone); the edit itself is done on `tokenize` tokens, so attribute accesses (`x.name`),
keyword arguments at call sites (`f(name=...)`), parameters, strings and comments are never
touched. `check_names` then proves the result: exactly the public names are public, and
every name resolves to a module-level binding, a local or a builtin.
"""
import ast
import builtins
import io
import tokenize

SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
               ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class BuildError(Exception):
    """The source cannot be turned into a correct pasteable module."""


class Scope(object):
    def __init__(self, kind, parent):
        self.kind, self.parent = kind, parent  # kind: module, function, class, comprehension
        self.bound, self.imported = set(), set()
        self.globals, self.nonlocals = set(), set()

    def bind(self, name):
        if name not in self.globals:
            self.bound.add(name)


class Names(object):
    """Every name occurrence of a module with the scope it appears in."""

    def __init__(self, tree):
        self.module = Scope("module", None)
        self.uses = []          # (ast.Name, scope)
        self.definitions = []   # (FunctionDef/ClassDef node, scope): the name after def/class
        self.declarations = []  # (ast.Global node, scope)
        self.calls_by_name = []  # (ast.Call of a plain name, scope)
        self.visit_all(tree.body, self.module)

    # -- collecting -----------------------------------------------------------------------
    def visit_all(self, nodes, scope):
        for node in nodes:
            self.visit(node, scope)

    def visit(self, node, scope):
        if node is None:
            return
        if isinstance(node, list):
            return self.visit_all(node, scope)
        handler = getattr(self, "visit_" + type(node).__name__, None)
        if handler:
            return handler(node, scope)
        for child in ast.iter_child_nodes(node):
            self.visit(child, scope)

    def visit_Call(self, node, scope):
        if isinstance(node.func, ast.Name):
            self.calls_by_name.append((node, scope))
        for child in ast.iter_child_nodes(node):
            self.visit(child, scope)

    def visit_Name(self, node, scope):
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            scope.bind(node.id)
        self.uses.append((node, scope))

    def visit_Global(self, node, scope):
        scope.globals.update(node.names)
        scope.bound.difference_update(node.names)
        self.declarations.append((node, scope))

    def visit_Nonlocal(self, node, scope):
        scope.nonlocals.update(node.names)

    def visit_Import(self, node, scope):
        for alias in node.names:
            name = alias.asname or alias.name.split(".")[0]
            scope.bind(name)
            scope.imported.add(name)

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node, scope):
        if node.name:
            scope.bind(node.name)
        self.visit(node.type, scope)
        self.visit_all(node.body, scope)

    def function_scope(self, node, scope):
        """Defaults and annotations are evaluated outside; parameters are locals inside."""
        arguments = node.args
        self.visit(arguments.defaults, scope)
        self.visit([d for d in arguments.kw_defaults if d is not None], scope)
        inner = Scope("function", scope)
        every = list(getattr(arguments, "posonlyargs", [])) + arguments.args + arguments.kwonlyargs
        every += [a for a in (arguments.vararg, arguments.kwarg) if a]
        for argument in every:
            self.visit(argument.annotation, scope)
            inner.bind(argument.arg)
        return inner

    def visit_FunctionDef(self, node, scope):
        scope.bind(node.name)
        self.definitions.append((node, scope))
        self.visit(node.decorator_list, scope)
        self.visit(node.returns, scope)
        self.visit_all(node.body, self.function_scope(node, scope))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node, scope):
        self.visit(node.body, self.function_scope(node, scope))

    def visit_ClassDef(self, node, scope):
        scope.bind(node.name)
        self.definitions.append((node, scope))
        self.visit(node.decorator_list, scope)
        self.visit(node.bases, scope)
        self.visit(node.keywords, scope)
        self.visit_all(node.body, Scope("class", scope))

    def visit_comprehension_node(self, node, scope, results):
        first = node.generators[0]
        self.visit(first.iter, scope)  # the first iterable is evaluated in the enclosing scope
        inner = Scope("comprehension", scope)
        for index, generator in enumerate(node.generators):
            self.visit(generator.target, inner)
            if index:
                self.visit(generator.iter, inner)
            self.visit(generator.ifs, inner)
        self.visit(results, inner)

    def visit_ListComp(self, node, scope):
        self.visit_comprehension_node(node, scope, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node, scope):
        self.visit_comprehension_node(node, scope, [node.key, node.value])

    # -- resolving ------------------------------------------------------------------------
    def is_global(self, name, scope):
        """Does `name`, used in `scope`, refer to the module-level binding?"""
        own = scope
        while scope.kind != "module":
            if name in scope.globals:
                return True
            if name in scope.nonlocals:
                return False
            # a class body's names are visible in that body only, not in its methods
            if name in scope.bound and (scope.kind != "class" or scope is own):
                return False
            scope = scope.parent
        return True


def positions(text):
    """{(row, column in characters): NAME token} and the lines, from tokenize."""
    tokens = {}
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.NAME:
            tokens[token.start] = token
    return tokens, text.splitlines(True)


def char_column(lines, row, byte_column):
    """ast columns count UTF-8 bytes; tokenize columns count characters."""
    return len(lines[row - 1].encode("utf-8")[:byte_column].decode("utf-8"))


def occurrences(names, tokens, lines, renames):
    """(row, column) of every token to rename."""
    found = set()
    for node, scope in names.uses:
        if node.id in renames and names.is_global(node.id, scope):
            found.add((node.lineno, char_column(lines, node.lineno, node.col_offset), node.id))
    for node, scope in names.definitions:
        if node.name in renames and names.is_global(node.name, scope):
            keyword = "class" if isinstance(node, ast.ClassDef) else "def"
            found.add(following_name(tokens, node, keyword, node.name))
    for node, scope in names.declarations:
        for name in set(node.names) & set(renames):
            for (row, column), token in tokens.items():
                if node.lineno <= row <= node.end_lineno and token.string == name:
                    found.add((row, column, name))
    return found


def following_name(tokens, node, keyword, name):
    """Where the name after `def`/`class` of this node starts."""
    candidates = sorted(start for start, token in tokens.items()
                        if node.lineno <= start[0] <= node.end_lineno and token.string in (keyword, name))
    for first, second in zip(candidates, candidates[1:]):
        if tokens[first].string == keyword and tokens[second].string == name:
            return second + (name,)
    raise BuildError("cannot find the name of %s %s on line %d" % (keyword, name, node.lineno))


def privatize(text, public, keep=()):
    """`text` with every internal module-level name renamed to `_name`."""
    tree = ast.parse(text)
    names = Names(tree)
    module = names.module
    renames = dict((name, "_" + name) for name in module.bound - module.imported - set(public) - set(keep)
                   if not name.startswith("_"))
    clashes = sorted(name for name, private in renames.items() if private in module.bound)
    if clashes:
        raise BuildError("both %s are defined at top level; rename one in the source" % ", ".join(
            "%s and _%s" % (name, name) for name in clashes))
    tokens, lines = positions(text)
    edits = sorted(occurrences(names, tokens, lines, renames), reverse=True)
    for row, column, name in edits:
        token = tokens.get((row, column))
        if token is None or token.string != name:
            raise BuildError("line %d: %r is used where tokenize sees no such name (f-string?); "
                             "use %%-formatting in dist modules" % (row, name))
        line = lines[row - 1]
        lines[row - 1] = line[:column] + renames[name] + line[column + len(name):]
    return "".join(lines)


def check_names(text, public, allowed=()):
    """Raise BuildError unless the module defines exactly `public` (besides dunders, imports
    and `allowed`) as public names, and every name it uses resolves."""
    names = Names(ast.parse(text))
    module = names.module
    exposed = set(name for name in module.bound - module.imported - set(allowed) if not name.startswith("_"))
    if exposed != set(public):
        raise BuildError("public names differ from __all__: extra %s, missing %s" % (
            sorted(exposed - set(public)), sorted(set(public) - exposed)))
    dynamic = sorted(set("%s() (line %d)" % (node.func.id, node.lineno) for node, _ in names.calls_by_name
                         if node.func.id in ("globals", "vars") and not node.args))
    if dynamic:
        raise BuildError("module names looked up by text break the renaming: %s" % ", ".join(dynamic))
    known = module.bound | set(dir(builtins)) | {"__file__", "__name__", "__doc__", "__spec__"}
    unresolved = sorted(set("%s (line %d)" % (node.id, node.lineno) for node, scope in names.uses
                            if node.id not in known and names.is_global(node.id, scope)))
    if unresolved:
        raise BuildError("names that resolve to nothing: %s" % ", ".join(unresolved))
