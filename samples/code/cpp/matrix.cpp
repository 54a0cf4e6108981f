// matrix.cpp - a small dense matrix class with LU decomposition.
//
// Build: g++ -std=c++17 -O2 -Wall matrix.cpp -o matrix
//
// Supports construction from nested initializer lists, multiplication,
// transposition, determinant and solving Ax = b via partial pivoting.

#include <cmath>
#include <initializer_list>
#include <iomanip>
#include <iostream>
#include <stdexcept>
#include <utility>
#include <vector>

class Matrix {
public:
    Matrix(std::size_t rows, std::size_t cols, double fill = 0.0)
        : rows_(rows), cols_(cols), data_(rows * cols, fill) {}

    Matrix(std::initializer_list<std::initializer_list<double>> init)
        : rows_(init.size()), cols_(init.size() ? init.begin()->size() : 0) {
        data_.reserve(rows_ * cols_);
        for (const auto& row : init) {
            if (row.size() != cols_) throw std::invalid_argument("ragged initializer");
            data_.insert(data_.end(), row.begin(), row.end());
        }
    }

    static Matrix identity(std::size_t n) {
        Matrix m(n, n);
        for (std::size_t i = 0; i < n; ++i) m(i, i) = 1.0;
        return m;
    }

    std::size_t rows() const { return rows_; }
    std::size_t cols() const { return cols_; }

    double& operator()(std::size_t r, std::size_t c) { return data_[r * cols_ + c]; }
    double operator()(std::size_t r, std::size_t c) const { return data_[r * cols_ + c]; }

    Matrix operator*(const Matrix& other) const {
        if (cols_ != other.rows_) throw std::invalid_argument("shape mismatch in multiply");
        Matrix out(rows_, other.cols_);
        // i-k-j loop order keeps the inner loop contiguous in memory.
        for (std::size_t i = 0; i < rows_; ++i)
            for (std::size_t k = 0; k < cols_; ++k) {
                const double a = (*this)(i, k);
                for (std::size_t j = 0; j < other.cols_; ++j) out(i, j) += a * other(k, j);
            }
        return out;
    }

    Matrix transpose() const {
        Matrix t(cols_, rows_);
        for (std::size_t i = 0; i < rows_; ++i)
            for (std::size_t j = 0; j < cols_; ++j) t(j, i) = (*this)(i, j);
        return t;
    }

    // In-place LU decomposition with partial pivoting (Doolittle form).
    // Returns the permutation and the sign of the permutation.
    std::pair<std::vector<std::size_t>, int> lu_inplace() {
        if (rows_ != cols_) throw std::invalid_argument("LU needs a square matrix");
        const std::size_t n = rows_;
        std::vector<std::size_t> perm(n);
        for (std::size_t i = 0; i < n; ++i) perm[i] = i;
        int sign = 1;
        for (std::size_t k = 0; k < n; ++k) {
            std::size_t pivot = k;
            for (std::size_t i = k + 1; i < n; ++i)
                if (std::fabs((*this)(i, k)) > std::fabs((*this)(pivot, k))) pivot = i;
            if (std::fabs((*this)(pivot, k)) < 1e-12) throw std::runtime_error("matrix is singular");
            if (pivot != k) {
                for (std::size_t j = 0; j < n; ++j) std::swap((*this)(k, j), (*this)(pivot, j));
                std::swap(perm[k], perm[pivot]);
                sign = -sign;
            }
            for (std::size_t i = k + 1; i < n; ++i) {
                (*this)(i, k) /= (*this)(k, k);
                for (std::size_t j = k + 1; j < n; ++j) (*this)(i, j) -= (*this)(i, k) * (*this)(k, j);
            }
        }
        return {perm, sign};
    }

    double determinant() const {
        Matrix lu = *this;
        auto [perm, sign] = lu.lu_inplace();
        double det = sign;
        for (std::size_t i = 0; i < rows_; ++i) det *= lu(i, i);
        return det;
    }

    std::vector<double> solve(const std::vector<double>& b) const {
        Matrix lu = *this;
        auto [perm, sign] = lu.lu_inplace();
        (void)sign;
        const std::size_t n = rows_;
        std::vector<double> x(n);
        for (std::size_t i = 0; i < n; ++i) {  // forward substitution, L has unit diagonal
            double s = b[perm[i]];
            for (std::size_t j = 0; j < i; ++j) s -= lu(i, j) * x[j];
            x[i] = s;
        }
        for (std::size_t i = n; i-- > 0;) {  // back substitution with U
            double s = x[i];
            for (std::size_t j = i + 1; j < n; ++j) s -= lu(i, j) * x[j];
            x[i] = s / lu(i, i);
        }
        return x;
    }

    friend std::ostream& operator<<(std::ostream& os, const Matrix& m) {
        for (std::size_t i = 0; i < m.rows_; ++i) {
            os << (i == 0 ? "[" : " ");
            for (std::size_t j = 0; j < m.cols_; ++j) os << std::setw(9) << std::setprecision(4) << m(i, j);
            os << (i + 1 == m.rows_ ? " ]\n" : "\n");
        }
        return os;
    }

private:
    std::size_t rows_, cols_;
    std::vector<double> data_;
};

int main() {
    Matrix a{{2, 1, 1}, {4, -6, 0}, {-2, 7, 2}};
    std::cout << "A =\n" << a << "A^T =\n" << a.transpose();
    std::cout << "det(A) = " << a.determinant() << "\n";

    std::vector<double> x = a.solve({5, -2, 9});
    std::cout << "solution of Ax = b: ";
    for (double v : x) std::cout << v << ' ';
    std::cout << "\nA * I == A: " << std::boolalpha
              << (std::fabs((a * Matrix::identity(3))(1, 1) - a(1, 1)) < 1e-12) << "\n";
    return 0;
}
