package org.jenkinsci.plugins.workflow.libs

import java.lang.annotation.Retention
import java.lang.annotation.RetentionPolicy

/**
 * Stand-in for Jenkins' @Library (pipeline-groovy-lib), so `@Library('name') _` compiles.
 * LibraryAnnotations reads the names from the source; the annotation itself does nothing.
 */
@Retention(RetentionPolicy.SOURCE)
@interface Library {
    String[] value()
}
