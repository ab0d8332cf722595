import org.codehaus.groovy.ast.AnnotatedNode
import org.codehaus.groovy.ast.AnnotationNode
import org.codehaus.groovy.ast.ClassCodeVisitorSupport
import org.codehaus.groovy.ast.ClassNode
import org.codehaus.groovy.ast.expr.DeclarationExpression
import org.codehaus.groovy.ast.expr.Expression
import org.codehaus.groovy.ast.expr.ListExpression
import org.codehaus.groovy.classgen.GeneratorContext
import org.codehaus.groovy.control.CompilePhase
import org.codehaus.groovy.control.SourceUnit
import org.codehaus.groovy.control.customizers.CompilationCustomizer

/**
 * Collects the library names of a pipeline's `@Library('name')` / `@Library(['a', 'b@v'])`
 * annotations while it compiles, as Jenkins reads them before running the script: on
 * `_` (the usual `@Library('name') _`) or on an import.
 */
class LibraryAnnotations extends CompilationCustomizer {
    final List<String> names = []

    LibraryAnnotations() {
        super(CompilePhase.CONVERSION)
    }

    @Override
    void call(SourceUnit source, GeneratorContext context, ClassNode classNode) {
        source.AST.imports.each { collect(it) }
        source.AST.starImports.each { collect(it) }
        ClassCodeVisitorSupport visitor = new ClassCodeVisitorSupport() {
            @Override
            protected SourceUnit getSourceUnit() {
                return source
            }

            @Override
            void visitDeclarationExpression(DeclarationExpression expression) {
                collect(expression)
                super.visitDeclarationExpression(expression)
            }
        }
        visitor.visitClass(classNode)
    }

    private void collect(AnnotatedNode node) {
        node.annotations.findAll { AnnotationNode a -> a.classNode.nameWithoutPackage == 'Library' }.each { a ->
            Expression value = a.getMember('value')
            List<Expression> items = value instanceof ListExpression ? value.expressions : [value]
            items.each { item ->
                if (!names.contains(item.text)) {
                    names << item.text
                }
            }
        }
    }
}
